"""Derived session ids for drop-in events that carry none (ingest_gateway.dropin.sessions),
against real Redis: 30 idle minutes per distinct id, the same ids on a retry and from any
gateway process, and fixed 30-minute windows when Redis cannot be asked."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from ingest_gateway.dropin.sessions import SessionDeriver

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def events(*spec: tuple[str, int]) -> list[dict[str, Any]]:
    """Events of ``(distinct id, minutes after START)`` with no session id."""
    return [
        {"event": "e", "distinctId": who, "timestamp": (START + timedelta(minutes=m)).isoformat()}
        for who, m in spec
    ]


@pytest.fixture
async def redis(services: Any) -> AsyncIterator[Redis]:
    client = Redis.from_url(services.redis_url)
    yield client
    await client.aclose()


async def sessions_of(deriver: SessionDeriver, batch: list[dict[str, Any]]) -> list[str]:
    await deriver.fill("project-1", batch)
    return [event["sessionId"] for event in batch]


async def test_thirty_idle_minutes_make_a_new_session(
    redis: Redis, redis_prefix: str, services: Any
) -> None:
    deriver = SessionDeriver(redis, redis_prefix, timeout=1.0)
    # Out of order within the request; a 31-minute gap after minute 40 for "a".
    first = await sessions_of(deriver, events(("a", 10), ("a", 0), ("b", 0), ("a", 40)))
    assert first[0] == first[1] == first[3]  # 0 → 10 → 40: never 30 minutes idle
    assert first[2] != first[0]  # another person, another session
    # A retry of that request through another gateway process: the same ids.
    other = Redis.from_url(services.redis_url)
    again = SessionDeriver(other, redis_prefix, timeout=1.0)
    assert await sessions_of(again, events(("a", 10), ("a", 0), ("b", 0), ("a", 40))) == first
    await other.aclose()
    later = await sessions_of(deriver, events(("a", 71), ("a", 75), ("b", 20)))
    assert later[0] == later[1] != first[0]  # 31 minutes after minute 40
    assert later[2] == first[2]  # "b" at 20 minutes: still its session


async def test_an_event_kept_its_session_id_and_a_late_one_gets_its_window(
    redis: Redis, redis_prefix: str
) -> None:
    deriver = SessionDeriver(redis, redis_prefix, timeout=1.0)
    batch = events(("c", 100), ("c", 101))
    batch[1]["sessionId"] = "mine"  # the product's own session id is kept
    await deriver.fill("project-1", batch)
    assert batch[1]["sessionId"] == "mine"
    late = events(("c", 0), ("c", 5))  # over 30 minutes before the current session
    ids = await sessions_of(deriver, late)
    assert ids[0] == ids[1] != batch[0]["sessionId"]  # one fixed window: minutes 0-30


async def test_without_redis_every_event_gets_its_fixed_window(redis_prefix: str) -> None:
    nowhere = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    deriver = SessionDeriver(nowhere, redis_prefix, timeout=0.5)
    batch = events(("d", 0), ("d", 29), ("d", 31), ("e", 1))
    assert await deriver.fill("project-1", batch) == 4  # all on the fallback
    ids = [event["sessionId"] for event in batch]
    assert ids[0] == ids[1] != ids[2]  # 12:00-12:30, then 12:30-13:00
    assert ids[3] != ids[0]
    await nowhere.aclose()
