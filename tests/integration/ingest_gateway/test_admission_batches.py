"""Admission against real Redis: requests that arrive while a round trip is out go together
in the next, each decided as if it had gone alone, in the order they came."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.usage import month_of, usage_key
from ingest_gateway.admission import Admission, Admitter

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
DAY = 86_400  # a rate window no test run straddles but by bad luck


async def admitter(redis: Redis, prefix: str, sizes: list[int], threshold: int = 0) -> Admitter:
    for project in ("p1", "p2"):  # the usage the gateway would have rebuilt
        await redis.hset(usage_key(prefix, project, month_of(NOW)), "reserved", 0)
    return Admitter(redis, prefix, DAY, threshold, 10, on_round_trip=sizes.append)


@pytest.fixture
async def redis(services: Any) -> Any:
    client = Redis.from_url(services.redis_url)
    yield client
    await client.aclose()


async def test_a_crowd_of_requests_shares_round_trips_decided_one_by_one_in_order(
    redis, redis_prefix
):
    sizes: list[int] = []
    admit = (await admitter(redis, redis_prefix, sizes)).admit
    answers = await asyncio.gather(*(admit("key", 120, "p1", 1, 10_000, NOW) for _ in range(200)))
    assert [a.rate.allowed for a in answers] == [True] * 120 + [False] * 80
    assert [a.rate.remaining for a in answers[:120]] == list(range(119, -1, -1))
    assert all(a.reservation is None for a in answers[120:])  # refused: nothing reserved
    assert sum(sizes) == 200 and len(sizes) < 20  # 200 requests, a few round trips
    used = await redis.hget(usage_key(redis_prefix, "p1", month_of(NOW)), "reserved")
    assert int(used) == 120


async def test_the_monthly_limit_is_exact_across_a_shared_round_trip(redis, redis_prefix):
    sizes: list[int] = []
    admit = (await admitter(redis, redis_prefix, sizes)).admit

    async def request(n: int) -> Admission:
        return await admit(f"key-{n % 3}", 1000, "p1" if n % 2 else "p2", 10, 300, NOW)

    answers = await asyncio.gather(*(request(n) for n in range(100)))
    granted = [a.reservation is not None and a.reservation.granted for a in answers]
    # Each project's first 30 requests (300 events) in the order they came, no more.
    for project in (0, 1):
        assert [granted[n] for n in range(100) if n % 2 == project] == [True] * 30 + [False] * 20
    assert max(sizes) > 1


async def test_every_request_of_a_failed_round_trip_gets_the_failure(redis_prefix):
    gone = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)
    admit = Admitter(gone, redis_prefix, DAY, 0, 10).admit
    async with asyncio.timeout(10):  # never left waiting
        outcomes = await asyncio.gather(
            *(admit("key", 10, "p1", 1, 100, NOW) for _ in range(50)), return_exceptions=True
        )
    assert all(isinstance(o, RedisError | OSError) for o in outcomes)
    await gone.aclose()


async def test_the_lane_meter_counts_each_request_of_a_shared_round_trip(redis, redis_prefix):
    micros = (await redis.time())[1]  # the meter counts per second of Redis's clock
    if micros > 800_000:
        await asyncio.sleep((1_000_000 - micros) / 1e6 + 0.01)
    sizes: list[int] = []
    admit = (await admitter(redis, redis_prefix, sizes, threshold=250)).admit
    answers = await asyncio.gather(*(admit("key", 1000, "p1", 10, 10_000, NOW) for _ in range(40)))
    entered = [a.lane.entered for a in answers]
    assert entered.count(True) == 1 and entered.index(True) == 25  # the 26th passes 250
