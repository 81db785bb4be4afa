"""Request ids (common.request_ids) and the JSON log lines (common.logs) that carry them."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common.logs import formatter
from common.request_ids import HEADER, request_id, request_ids


def test_a_plain_token_is_kept_and_anything_else_replaced() -> None:
    assert request_id("lb-7f3a.2_x") == "lb-7f3a.2_x"
    for hostile in (None, "", "a b", "x" * 65, "id\r\nSet-Cookie: a", "ümlaut"):
        fresh = request_id(hostile)
        assert len(fresh) == 32 and int(fresh, 16) >= 0
    assert request_id(None) != request_id(None)


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the services' formatter writes for the ``probe`` logger."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(as_json=True))
    probe = logging.getLogger("probe")
    probe.addHandler(handler)
    probe.setLevel(logging.INFO)
    yield out
    probe.removeHandler(handler)


async def test_every_line_of_a_request_carries_its_id(lines: io.StringIO) -> None:
    async def handler(request: web.Request) -> web.Response:
        logging.getLogger("probe").warning("appended %d records", 3, extra={"project": "p1"})
        if request.query.get("fail"):
            raise web.HTTPBadRequest()
        return web.json_response({})

    app = web.Application(middlewares=[request_ids])
    app.router.add_post("/", handler)
    async with TestClient(TestServer(app)) as client:
        answered = await client.post("/", headers={HEADER: "from-the-lb"})
        refused = await client.post("/?fail=1")
    assert answered.headers[HEADER] == "from-the-lb"
    fresh = refused.headers[HEADER]
    assert refused.status == 400 and len(fresh) == 32
    first, second = (json.loads(line) for line in lines.getvalue().splitlines())
    assert first["event"] == "appended 3 records"  # %-style arguments rendered
    assert (first["level"], first["logger"], first["project"]) == ("warning", "probe", "p1")
    assert first["request_id"] == "from-the-lb" and second["request_id"] == fresh
    assert first["timestamp"].endswith("Z")
    logging.getLogger("probe").info("outside any request")
    assert "request_id" not in json.loads(lines.getvalue().splitlines()[-1])


def test_an_exception_is_one_json_line(lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("probe").exception("failed")
    [line] = lines.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "failed"
    assert record["exception"][0]["exc_type"] == "ValueError"
