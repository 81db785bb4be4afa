"""When PostgreSQL or Redis cannot be reached, a query is a 503 with Retry-After (the
client may retry), never a 500; the metrics count it."""

import socket
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from query_api.app import create_standalone_app
from query_api.settings import Settings
from tests.integration.query_api.conftest import World

pytestmark = pytest.mark.integration

QUERY = {
    "type": "metric",
    "projectId": "alpha",
    "event": "$pageview",
    "dateRange": {"start": "2026-02-01T00:00:00Z", "end": "2026-02-01T23:59:59.999Z"},
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def ask(settings: Settings, **kwargs: Any) -> tuple[int, Any, str | None]:
    client = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.post("/api/query", json=QUERY, **kwargs)
        body = await response.json()
        metrics = await (await client.get("/api/query/metrics")).text()
        assert 'reason="unavailable"' in metrics
        return response.status, body, response.headers.get("Retry-After")
    finally:
        await client.close()


async def test_no_database_is_a_503_with_retry_after(module_world: World):
    database = f"postgresql://nobody@127.0.0.1:{closed_port()}/none?connect_timeout=1"
    settings = replace(module_world.settings(), database_url=database, pool_wait_seconds=0.5)
    status, body, retry = await ask(settings, cookies={"ra_session": module_world.cookie})
    assert (status, body, retry) == (503, {"error": "Service unavailable"}, "2")


async def test_no_redis_is_a_503_with_retry_after(module_world: World):
    settings = replace(module_world.settings(), redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    status, body, retry = await ask(settings, cookies={"ra_session": module_world.cookie})
    assert (status, body, retry) == (503, {"error": "Service unavailable"}, "2")
