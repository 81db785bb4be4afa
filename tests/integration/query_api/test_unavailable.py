"""When PostgreSQL or Redis cannot be reached, a query is a 503 with Retry-After (the
client may retry), never a 500; the metrics count it."""

import asyncio
import socket
from collections import Counter
from dataclasses import replace
from typing import Any

import aiohttp
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
    unavailable = {"error": "Service unavailable", "code": "DATABASE_UNAVAILABLE"}
    assert (status, body, retry) == (503, unavailable, "2")


async def test_no_redis_is_a_503_with_retry_after(module_world: World):
    settings = replace(module_world.settings(), redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    status, body, retry = await ask(settings, cookies={"ra_session": module_world.cookie})
    unavailable = {"error": "Service unavailable", "code": "REDIS_UNAVAILABLE"}
    assert (status, body, retry) == (503, unavailable, "2")


async def test_a_burst_of_500_concurrent_queries_gets_answers_or_clear_refusals(
    module_world: World, client
):
    """redis-py's pool holds 100 connections: a burst past it once answered 500s."""
    cookies = {"ra_session": module_world.cookie}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, cookies=cookies) as session:

        async def one() -> tuple[int, str | None, Any]:
            async with session.post(client.make_url("/api/query"), json=QUERY) as response:
                return response.status, response.headers.get("Retry-After"), await response.json()

        answers = await asyncio.gather(*(one() for _ in range(500)))
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) <= {200, 429, 503}, statuses
    assert statuses[200] > 0, statuses
    for status, retry, body in answers:
        if status != 200:
            assert retry is not None and int(retry) >= 1 and "error" in body, (status, body)
