"""The real mixpanel-python client against the gateway: what it sends is what the query API
counts, exactly once (gateway → Kafka → the workers' sink → PostgreSQL → POST /api/query).

The client is synchronous (requests): its calls run in a thread so the in-process gateway
keeps serving. Its ``Consumer`` mounts its retries on https only, so against this http
gateway a "retry" is the same message sent again, as a client retrying a lost answer does.
"""

import asyncio
import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import mixpanel
import pytest
from aiohttp.test_utils import TestClient
from mixpanel import BufferedConsumer, Consumer, Mixpanel, MixpanelException

from control_plane.projects import CreatedProject
from ingest_gateway.dropin.mixpanel import dedup_id
from tests.integration.ingest_gateway.pipeline import apply, ask, raw_records, stored
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

DAY = datetime(2026, 2, 3, tzinfo=UTC)
RANGE = {
    "start": DAY.isoformat(),
    "end": (DAY + timedelta(days=1, milliseconds=-1)).isoformat(),
}


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def urls(gateway: TestClient) -> dict[str, str]:
    base = str(gateway.server.make_url("/"))
    return {"events_url": base + "track", "import_url": base + "import"}


async def run(call: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(call, *args, **kwargs)


async def count(query_api: Any, slug: str, **query: Any) -> dict[str, Any]:
    return await ask(query_api, {"projectId": slug, "dateRange": RANGE, **query})


async def test_track_and_import_count_once_in_their_hours(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: Any,
) -> None:
    direct = Mixpanel(project.public_key, consumer=Consumer(**urls(gateway)))
    # time in seconds (a float, as the client's own clock gives it) and in milliseconds
    seconds = {"time": at(10, 15).timestamp() + 0.5, "$insert_id": "signup-1", "plan": "pro"}
    await run(direct.track, "u1", "Signup", seconds)
    await run(direct.track, "u1", "Signup", seconds)  # the retry: counted once
    millis = {"time": int(at(11, 20).timestamp() * 1000), "plan": "free"}
    await run(direct.track, "u2", "Signup", millis)
    # /import: the token in the properties; the answer's status 1 is what the client checks
    await run(direct.import_data, None, "u3", "Signup", int(at(12, 5).timestamp()), {"plan": "pro"})

    buffered = BufferedConsumer(**urls(gateway))
    batched = Mixpanel(project.public_key, consumer=buffered)
    for n in range(3):
        await run(batched.track, f"b{n}", "Signup", {"time": at(13, n).timestamp(), "plan": "pro"})
    await run(buffered.flush)

    # Refused whole, nothing counted: a secret key, a batch over each endpoint's cap.
    refused = Mixpanel(project.secret_key, consumer=Consumer(**urls(gateway)))
    with pytest.raises(MixpanelException, match="Invalid API key"):
        await run(refused.track, "u9", "Signup", {"time": at(14).timestamp()})
    with pytest.raises(MixpanelException, match="Invalid API key"):  # Basic auth, as secret
        await run(direct.import_data, None, "u9", "Signup", 1, None, None, project.secret_key)
    sender = Consumer(**urls(gateway))

    def batch(size: int) -> str:
        event = {
            "event": "Signup",
            "properties": {"token": project.public_key, "distinct_id": "u9"},
        }
        return json.dumps([event] * size)

    with pytest.raises(MixpanelException, match="At most 50 events per request"):
        await run(sender.send, "events", batch(51))
    with pytest.raises(MixpanelException, match="At most 2000 events per request"):
        await run(sender.send, "imports", batch(2001))
    big = {"token": project.public_key, "distinct_id": "u9", "blob": "x" * 1000}
    over_a_mib = json.dumps([{"event": "Signup", "properties": big}] * 1100)
    with pytest.raises(MixpanelException, match="Payload too large"):
        await run(sender.send, "events", over_a_mib)

    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 7, settle=1.0)
    assert len(raws) == 7  # six events and the retry's repeat
    applied = await apply(
        database, services.redis_url, redis_prefix, raws, breakdown_keys=("plan",)
    )
    assert applied == 6

    total = await count(query_api, project.slug, type="metric", event="Signup", metric="count")
    assert total["value"] == 6
    hours = await count(query_api, project.slug, type="timeseries", event="Signup", interval="hour")
    by_hour = {point["t"][11:13]: point["value"] for point in hours["data"] if point["value"]}
    assert by_hour == {"10": 1, "11": 1, "12": 1, "13": 3}
    plans = await count(query_api, project.slug, type="breakdown", event="Signup", breakdown="plan")
    assert {group["key"]: group["value"] for group in plans["data"]} == {"pro": 5, "free": 1}
    users = await count(
        query_api, project.slug, type="metric", event="Signup", metric="unique_users"
    )
    assert users["value"] == 6
    [(properties,)] = stored(
        database,
        "SELECT properties FROM events WHERE project_id = %s AND distinct_id = 'u2'",
        (project.id,),
    )
    assert "token" not in properties and "time" not in properties
    assert properties["plan"] == "free"


async def test_alias_merge_and_simplified_id_merge_make_one_person(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where = urls(gateway)

    class LocalConsumer(Consumer):  # type: ignore[misc]
        """``Mixpanel.alias`` builds its own ``Consumer()`` for api.mixpanel.com: pointed
        here instead (docs/dropin.md (Mixpanel) says how users send an alias)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**where, **kwargs})

    monkeypatch.setattr(mixpanel, "Consumer", LocalConsumer)
    mp = Mixpanel(project.public_key, consumer=LocalConsumer())

    def step(distinct_id: str, name: str, when: datetime, **properties: Any) -> Any:
        return run(mp.track, distinct_id, name, {"time": when.timestamp(), **properties})

    # Simplified ID Merge: the device's anonymous events, then the user's with both ids.
    await step("$device:d1", "Viewed", at(9), **{"$device_id": "d1"})
    await step("user-1", "Signup", at(9, 5), **{"$device_id": "d1", "$user_id": "user-1"})
    # alias (the client's own call, and the same message again: one merge, counted once)
    await step("anon-2", "Viewed", at(9, 10))
    await run(mp.alias, "user-2", "anon-2")
    await run(mp.alias, "user-2", "anon-2")
    await step("user-2", "Signup", at(9, 15))
    # merge, sent to /import
    await step("anon-3", "Viewed", at(9, 20))
    await run(mp.merge, None, "user-3", "anon-3")
    await step("user-3", "Signup", at(9, 25))

    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 9, settle=1.0)
    assert len(raws) == 9
    assert await apply(database, services.redis_url, redis_prefix, raws) == 8

    rows = stored(
        database,
        "SELECT distinct_id, person FROM person_aliases WHERE project_id = %s",
        (project.id,),
    )
    person = dict(rows)
    assert person["$device:d1"] == person.get("user-1", "user-1")
    assert person.get("user-2", "user-2") == person.get("anon-2", "anon-2")
    assert person.get("user-3", "user-3") == person.get("anon-3", "anon-3")
    assert len({person.get(i, i) for i in ("user-1", "user-2", "user-3")}) == 3

    funnel = await count(
        query_api,
        project.slug,
        type="funnel",
        steps=[{"event": "Viewed"}, {"event": "Signup"}],
        conversionWindow={"value": 1, "unit": "hour"},
    )
    assert [s["users"] for s in funnel["steps"]] == [3, 3]  # each anonymous view converts


async def test_a_strict_import_with_a_bad_record_is_refused_whole_and_gzip_is_read(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    def event(n: int, **extra: Any) -> dict[str, Any]:
        properties = {"distinct_id": f"u{n}", "time": 1770113700, "$insert_id": f"i{n}"}
        return {"event": "Signup", "properties": {**properties, **extra}}

    auth = {
        "Authorization": "Basic " + base64.b64encode(f"{project.public_key}:".encode()).decode()
    }
    gzipped = {**auth, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    bad = [event(0), event(1, time="yesterday"), event(2)]
    response = await gateway.post(
        "/import?strict=1", data=gzip.compress(json.dumps(bad).encode()), headers=gzipped
    )
    assert response.status == 400
    answer = await response.json()
    assert answer["num_records_imported"] == 0
    assert answer["failed_records"] == [
        {
            "index": 1,
            "insert_id": "i1",
            "field": "properties.time",
            "message": "Must be seconds or milliseconds since the epoch.",
        }
    ]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.0) == []

    good = "\n".join(json.dumps(event(n)) for n in range(3)).encode()
    response = await gateway.post(
        "/import",
        data=gzip.compress(good),
        headers={**gzipped, "Content-Type": "application/x-ndjson"},
    )
    assert response.status == 200
    assert await response.json() == {"code": 200, "num_records_imported": 3, "status": "OK"}
    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 3)
    sent = [dedup_id("Signup", f"u{n}", 1770113700 * 1_000_000, f"i{n}") for n in range(3)]
    assert sorted(json.loads(r.value)["insertId"] for r in raws) == sorted(sent)


async def test_the_request_address_is_the_end_user_s_only_with_ip_1(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    """mixpanel-python posts ``ip=0`` from the customer's server: the record carries no
    address, unless a message names its user's (``ip``); ``ip=1`` (mixpanel-js) makes the
    request's own address the user's."""

    def track(n: int, **extra: Any) -> dict[str, Any]:
        properties = {"token": project.public_key, "distinct_id": f"u{n}", "$insert_id": f"i{n}"}
        return {"event": "Signup", "properties": {**properties, **extra}}

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for flag, messages in (("0", [track(0), track(1, ip="8.8.8.8")]), ("1", [track(2)])):
        body = "data=" + base64.b64encode(json.dumps(messages).encode()).decode() + f"&ip={flag}"
        response = await gateway.post("/track", data=body, headers=form)
        assert response.status == 200
    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 3)
    contexts = {
        record["distinctId"]: record["context"] for record in (json.loads(r.value) for r in raws)
    }
    assert "ip" not in contexts["u0"]
    assert contexts["u1"]["ip"] == "8.8.8.8"
    assert contexts["u2"]["ip"] == "127.0.0.1"


async def test_an_event_name_that_is_no_text_is_a_400_not_a_crash(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    """An event name that is a list or an object (unhashable) once made the translation
    raise: a 500 for the batch, where every other refusal is Mixpanel's 400."""
    properties = {"token": project.public_key, "distinct_id": "u1", "time": 1770113700}
    batch = [
        {"event": "Signup", "properties": properties},
        {"event": ["Signup"], "properties": properties},
        {"event": {"name": "Signup"}, "properties": properties},
    ]
    response = await gateway.post("/track?verbose=1", json=batch)
    assert response.status == 400
    answer = await response.json()
    assert answer["status"] == 0
    assert [(d["index"], d["field"]) for d in answer["details"]] == [(1, "event"), (2, "event")]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.0) == []
