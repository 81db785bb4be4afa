"""``/ready``'s answer: 200 only when every probe answers, a body naming each."""

import json

from common.health import readiness


async def answers() -> bool:
    return True


async def silent() -> bool:
    return False


async def broken() -> bool:
    raise ConnectionError("refused")


async def test_ready_when_every_probe_answers() -> None:
    response = await readiness({"redis": answers(), "database": answers()})
    assert response.status == 200
    assert json.loads(response.text or "") == {"redis": True, "database": True}


async def test_one_probe_down_or_failing_is_503_naming_it() -> None:
    response = await readiness({"redis": broken(), "database": answers(), "kafka": silent()})
    assert response.status == 503
    assert json.loads(response.text or "") == {"redis": False, "database": True, "kafka": False}


async def test_one_shard_is_not_reported() -> None:
    response = await readiness({"database": answers()}, shards={"default": None})  # type: ignore[dict-item]
    assert json.loads(response.text or "") == {"database": True}
