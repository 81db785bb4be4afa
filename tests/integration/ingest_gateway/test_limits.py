"""Rate limit, monthly quota, key revocation and Redis outages, against the real servers."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import psycopg
import pytest
import redis
from aiohttp.test_utils import TestClient

from contracts.usage import month_of, usage_key
from control_plane.projects import CreatedProject, rotate_keys
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import start_gateway
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.support.testlogs import service_log

pytestmark = pytest.mark.integration


def seconds_left_in_window(redis_url: str, window: int = 60) -> float:
    seconds, micros = redis.Redis.from_url(redis_url).time()
    now = seconds + micros / 1e6
    return window - (now % window)


async def wait_for_fresh_window(redis_url: str, needed: float, window: int = 60) -> None:
    left = seconds_left_in_window(redis_url, window)
    if left < needed:
        await asyncio.sleep(left + 0.05)


async def test_request_1001_in_a_window_is_refused_with_retry_after(
    gateway: TestClient, project: CreatedProject, services: Any
) -> None:
    await wait_for_fresh_window(services.redis_url, needed=40)
    # Bodies that fail validation still count: the limit is on requests.
    lanes = asyncio.Semaphore(32)

    async def one() -> int:
        async with lanes:
            return (await post(gateway, b"[]", project.public_key))[0]

    assert set(await asyncio.gather(*(one() for _ in range(1000)))) == {400}
    response = await gateway.post("/", data=b"[]", headers={"X-API-Key": project.public_key})
    assert response.status == 429
    assert await response.json() == {"error": "Rate limit exceeded"}
    retry_after = int(response.headers["Retry-After"])
    expected = seconds_left_in_window(services.redis_url)
    assert retry_after >= 1 and abs(retry_after - expected) <= 1.5
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    # Another key (another project) has its own window.
    other = await post(gateway, event(), None, headers={})
    assert other[0] == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gateway_processes(settings: Settings) -> Iterator[list[str]]:
    """Two real gateway processes sharing Redis, with a limit of 20 requests a window."""
    procs, urls = [], []
    for _ in range(2):
        port = _free_port()
        env = {
            **os.environ,
            "RA_DATABASE_URL": settings.database_url,
            "RA_REDIS_URL": settings.redis_url,
            "RA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "RA_EVENTS_TOPIC": settings.events_topic,
            "RA_REDIS_PREFIX": settings.redis_prefix,
            "RA_INGEST_PORT": str(port),
            "RA_RATE_LIMIT": "20",
        }
        with service_log("ingest_gateway").open("wb") as log:  # the child keeps its own
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ingest_gateway"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def _wait_healthy(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{url}/health") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"gateway at {url} did not start")


async def test_two_gateway_processes_share_one_limit(
    gateway_processes: list[str], project: CreatedProject, services: Any
) -> None:
    async with aiohttp.ClientSession() as session:
        for url in gateway_processes:
            await _wait_healthy(session, url)
        await wait_for_fresh_window(services.redis_url, needed=20)

        async def hit(url: str) -> int:
            headers = {"X-API-Key": project.public_key}
            async with session.post(url, data=b"[]", headers=headers) as response:
                return response.status

        first = [await hit(gateway_processes[i % 2]) for i in range(20)]
        assert first == [400] * 20
        assert await hit(gateway_processes[0]) == 429
        assert await hit(gateway_processes[1]) == 429


async def test_quota_at_the_limit_returns_the_contract_body(
    gateway: TestClient, project: CreatedProject, services: Any, redis_prefix: str
) -> None:
    key = usage_key(redis_prefix, project.id, month_of(datetime.now(UTC)))
    client = redis.Redis.from_url(services.redis_url)
    client.hset(key, mapping={"p0": 6000, "s0": 6000, "o0": 10, "p5": 3999, "s5": 3999, "o5": 4})
    assert (await post(gateway, event(), project.public_key))[0] == 200
    # Reserved, in flight: the limit is reached before any worker counted it.
    assert (await post(gateway, event(), project.public_key))[1]["used"] == 10000
    # A worker counts it (and saw its reservation): still 10,000, not 10,001.
    client.hset(key, mapping={"p5": 4000, "s5": 4000, "o5": 5})
    assert await post(gateway, event(), project.public_key) == (
        429,
        {
            "error": "Monthly event limit exceeded",
            "code": "EVENT_LIMIT_EXCEEDED",
            "limit": 10000,
            "used": 10000,
            "remaining": 0,
        },
    )


async def test_a_batch_that_would_cross_the_limit_is_refused_whole(
    gateway: TestClient, project: CreatedProject, services: Any, redis_prefix: str
) -> None:
    key = usage_key(redis_prefix, project.id, month_of(datetime.now(UTC)))
    redis.Redis.from_url(services.redis_url).hset(key, mapping={"p0": 9950, "o0": 1})
    batch = [event(n) for n in range(51)]
    status, body = await post(gateway, batch, project.public_key)
    assert (status, body["used"], body["remaining"]) == (429, 9950, 50)
    assert await post(gateway, batch[:50], project.public_key) == (
        200,
        {"success": True, "events": 50},
    )
    status, body = await post(gateway, [event()], project.public_key)
    assert (status, body["used"], body["remaining"]) == (429, 10000, 0)


async def test_rotated_key_stops_working_within_the_cache_ttl(
    gateway: TestClient, project: CreatedProject, database: str
) -> None:
    assert (await post(gateway, event(), project.public_key))[0] == 200
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        new_public, _ = await rotate_keys(conn, project.id)
    await asyncio.sleep(0.3)  # the test gateway's key cache TTL is 0.2 s
    assert await post(gateway, event(), project.public_key) == (401, {"error": "Invalid API key"})
    assert (await post(gateway, event(), new_public))[0] == 200


async def test_redis_down_fails_open_and_is_counted(
    settings_with: Callable[..., Settings], project: CreatedProject
) -> None:
    gateway = await start_gateway(settings_with(redis_url=f"redis://127.0.0.1:{_free_port()}/0"))
    try:
        assert await post(gateway, event(), project.public_key) == (
            200,
            {"success": True, "events": 1},
        )
        metrics = await (await gateway.get("/metrics")).text()
        # One round trip admits a request (rate, quota, lane): one failure, failing open.
        assert 'ingest_redis_failures_total{operation="admission"} 1.0' in metrics
        # Answered without a reservation: counted by the workers, visible as such.
        assert f'ingest_unreserved_events_total{{project="{project.slug}"}} 1.0' in metrics
        ready = await gateway.get("/ready")
        assert (ready.status, await ready.json()) == (503, {"kafka": True, "redis": False})
    finally:
        await gateway.close()
