"""Projects on two databases (contracts/shards.py): each shard's sink applies its own
projects' records of the same batches and advances its offsets past the others', so every
database holds exactly its projects' events, and a record is applied (or dropped, or
dead-lettered) once in all."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from redis.asyncio import Redis

from contracts.usage import month_of, total_used, usage_key
from stream_workers.metrics import Metrics
from stream_workers.received import RawRecord
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.shards import Directory
from stream_workers.sink import Sink
from tests.integration.stream_workers.conftest import DeadLetters, as_raw
from tests.integration.stream_workers.truth import assert_projections, counted, generate, record

pytestmark = pytest.mark.integration

CONSUMER = "test"


@pytest.fixture
async def shard_sink(
    services: Any, database: str, redis_prefix: str, dead_letters: DeadLetters
) -> AsyncIterator[Callable[[str, str], Awaitable[Sink]]]:
    """A sink on ``url`` for ``shard``, as that shard's worker has (control: ``database``)."""
    closing: list[Callable[[], Awaitable[None]]] = []

    async def connect_control() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(database, autocommit=True)

    async def open_one(shard: str, url: str) -> Sink:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        redis = Redis.from_url(services.redis_url)
        directory = Directory(shard, connect_control)
        closing.extend([conn.close, redis.aclose, directory.close])
        sink = Sink(
            conn,
            redis,
            consumer=CONSUMER,
            topic="events",
            redis_prefix=redis_prefix,
            dead_letter=dead_letters,
            keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
            metrics=Metrics(),
            directory=directory,
        )
        await sink.start()
        return sink

    yield open_one
    for close in closing:
        await close()


def stored_offsets(url: str) -> dict[int, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = %s", (CONSUMER,)
        ).fetchall()
    return {int(p): int(n) for p, n in rows}


async def test_each_database_holds_exactly_its_projects_and_both_pass_the_rest(
    shard_sink, make_project, database, shard_database, dead_letters
):
    home, away, also_away = (
        await make_project("home"),
        await make_project("away"),
        await make_project("also"),
    )
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET shard = 'eu' WHERE id = ANY(%s)", ([away, also_away],))
    gone = str(uuid.uuid4())  # a project deleted since (or never made): dropped, once
    records = generate([home, away, also_away], 6000, seed=21, users=400)
    now = datetime.now(UTC)
    orphans = [record(gone, "signup", now, f"g{n}") for n in range(30)]
    raws = as_raw([*records, *orphans])
    unreadable = RawRecord(0, max(r.offset for r in raws if r.partition == 0) + 1, b"{not json")
    raws.append(unreadable)
    default = await shard_sink("default", database)
    eu = await shard_sink("eu", shard_database)
    applied = {"default": 0, "eu": 0}
    dropped = 0
    for start in range(0, len(raws), 1500):
        batch = raws[start : start + 1500]
        # Each shard's worker reads the same records (a consumer group per shard).
        for name, sink in (("default", default), ("eu", eu)):
            result = await sink.apply(batch)
            applied[name] += result.applied
            dropped += result.dropped
    truth = counted(records)
    mine = {
        "default": [r for r in truth if r.project_id == home],
        "eu": [r for r in truth if r.project_id in (away, also_away)],
    }
    assert applied == {name: len(rs) for name, rs in mine.items()}
    assert dropped == len(orphans)
    assert [item for item, _ in dead_letters] == [unreadable]
    assert_projections(database, mine["default"])
    assert_projections(shard_database, mine["eu"])
    # Both databases stored every partition's offsets past the whole log.
    ends = {
        p: max(r.offset for r in raws if r.partition == p) + 1 for p in {r.partition for r in raws}
    }
    assert stored_offsets(database) == stored_offsets(shard_database) == ends
    # Re-delivered to both (a restart): nothing moves anywhere.
    for sink in (default, eu):
        again = await sink.apply(raws)
        assert (again.applied, again.dead_lettered) == (0, 0)
    assert_projections(shard_database, mine["eu"])


async def test_a_shard_resyncs_the_usage_of_its_own_projects_with_the_control_limits(
    shard_sink, make_project, database, shard_database, services, redis_prefix
):
    away = await make_project("away", limit=1234)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET shard = 'eu' WHERE id = %s", (away,))
    eu = await shard_sink("eu", shard_database)
    now = datetime.now(UTC)
    await eu.apply(as_raw([record(away, "signup", now, f"u{n}") for n in range(50)]))
    redis = Redis.from_url(services.redis_url)
    try:
        # Lost (a Redis flush): the shard's resync writes it back, with the plan limit
        # from the control database (the shard's own has no projects).
        key = usage_key(redis_prefix, away, month_of(now))
        await redis.delete(key)
        assert await eu.resync_usage(now.date().replace(day=1)) > 0
        state = await redis.hgetall(key)
    finally:
        await redis.aclose()
    assert state[b"limit"] == b"1234"
    assert total_used(state) == 50
