"""Records the database refuses are isolated, not retried forever: against real PostgreSQL.

A batch that fails for a data reason is split until the refused records stand alone; they
go to the dead-letter topic with the reason and are counted per reason, and every other
record of the batch applies exactly once. An infrastructure error is retried whole."""

import random
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import errors
from redis.asyncio import Redis

from stream_workers.metrics import Metrics
from stream_workers.sink import Sink
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import assert_projections, counted, generate, record

pytestmark = pytest.mark.integration

# A rule of the test's own schema the worker knows nothing of: the database refuses these
# records for a reason no cap in the worker foresaw (as a value too big to index did).
REFUSE = "ALTER TABLE events ADD CONSTRAINT refuses_poison CHECK (distinct_id NOT LIKE 'poison%')"


def astral(n: int, seed: int) -> str:
    """``n`` random characters outside the Basic Multilingual Plane (4 bytes each in UTF-8)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x10000, 0x10FFFF)) for _ in range(n))


def refuse_poison(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(REFUSE)


async def test_refused_records_are_isolated_and_everything_else_applies_once(
    sink, make_project, database, dead_letters
):
    a, b = await make_project("alpha"), await make_project("beta")
    refuse_poison(database)
    records = generate([a, b], 3000, seed=13)
    now = datetime.now(UTC)
    for at in (0, 777, 1500, 2999):  # first, middle and last places of the batches
        records.insert(at, record(a, "buy", now, f"poison-{at}"))
    raws = as_raw(records)
    poison = {
        (raw.partition, raw.offset)
        for raw, r in zip(raws, records, strict=True)
        if r.distinct_id.startswith("poison")
    }
    applied = dead = 0
    for start in range(0, len(raws), 1100):
        result = await sink.apply(raws[start : start + 1100])
        applied, dead = applied + result.applied, dead + result.dead_lettered
    good = [r for r in records if not r.distinct_id.startswith("poison")]
    assert (applied, dead) == (len(counted(good)), 4)
    assert {(r.partition, r.offset) for r, _ in dead_letters} == poison
    assert all("check_violation" in reason for _, reason in dead_letters)
    assert (
        sink.metrics.registry.get_sample_value(
            "worker_dead_lettered_total", {"reason": "check_violation"}
        )
        == 4
    )
    assert_projections(database, counted(good))
    # Re-delivered in other batches: nothing applies twice, nothing is dead-lettered again.
    again = await sink.apply(raws)
    assert (again.applied, again.dead_lettered, len(dead_letters)) == (0, 0, 4)
    assert_projections(database, counted(good))


async def test_an_infrastructure_error_is_retried_whole_never_dead_lettered(
    sink, make_project, database, dead_letters
):
    p = await make_project()
    raws = as_raw([record(p, "e", datetime.now(UTC), f"u{n}") for n in range(20)])
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("ALTER TABLE rollups RENAME TO rollups_away")  # a schema not migrated
    with pytest.raises(errors.UndefinedTable):
        await sink.apply(raws)
    assert dead_letters == []
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("ALTER TABLE rollups_away RENAME TO rollups")
        assert conn.execute("SELECT count(*) FROM consumer_offsets").fetchone() == (0,)
    assert (await sink.apply(raws)).applied == 20


async def test_a_distinct_id_too_long_to_index_is_stored_under_a_digest(
    sink, make_project, database, dead_letters
):
    # A few thousand 4-byte characters: over the btree limit of the per-user index.
    p = await make_project()
    now = datetime.now(UTC)
    long_a, long_b = astral(3000, 1), astral(3000, 1)[:2999] + "x"  # a shared prefix
    records = [
        record(p, "e", now, long_a),
        record(p, "e", now, long_a),
        record(p, "e", now, long_b),
        record(p, "e", now, "ordinary"),
    ]
    result = await sink.apply(as_raw(records, partitions=1))
    assert (result.applied, result.dead_lettered) == (4, 0)
    with psycopg.connect(database) as conn:
        ids = conn.execute("SELECT DISTINCT distinct_id FROM events").fetchall()
        users = conn.execute(
            "SELECT public.hll_cardinality(users) FROM rollups WHERE granularity = 'day'"
        ).fetchone()
    assert len(ids) == 3 and ("ordinary",) in ids
    assert all(len(i.encode()) <= 1024 for (i,) in ids)
    assert users == (3,)  # the two long ids are still two users


async def test_a_breakdown_value_too_big_for_its_key_is_isolated(
    services, make_project, database, dead_letters, redis_prefix
):
    # The sink fed a key that no deploy carries past the worker's caps
    # (stream_workers/configs.py): the database's own refusal is isolated.
    p = await make_project()
    key = astral(200, 2)  # 800 bytes: with a 500-character astral value, over 2704
    conn = await psycopg.AsyncConnection.connect(database, autocommit=True)
    redis = Redis.from_url(services.redis_url)
    sink = Sink(
        conn,
        redis,
        consumer="test",
        topic="events",
        redis_prefix=redis_prefix,
        dead_letter=dead_letters,
        keys_for=lambda _: (key,),
        metrics=Metrics(),
    )
    await sink.start()
    now = datetime.now(UTC)
    records = [record(p, "e", now, f"u{n}", properties={key: "ok"}) for n in range(9)]
    records.insert(4, record(p, "e", now, "big", properties={key: astral(3000, 3)}))
    try:
        result = await sink.apply(as_raw(records, partitions=2))
    finally:
        await conn.close()
        await redis.aclose()
    assert (result.applied, result.dead_lettered) == (9, 1)
    assert "program_limit_exceeded" in dead_letters[0][1]
    assert dead_letters[0][0].value == as_raw(records, partitions=2)[4].value
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (9,)
        row = conn.execute(
            "SELECT sum(events) FROM breakdown_rollups WHERE granularity = 'day' AND value = 'ok'"
        ).fetchone()
    assert row == (9,)


async def test_a_record_in_the_last_month_python_holds_goes_to_the_default_partition(
    sink, make_project, database, dead_letters
):
    # Its month's partition would end in year 10000, which no date holds: before, the
    # error came back on every retry of the batch.
    p = await make_project()
    late = datetime(9999, 11, 20, tzinfo=UTC)
    records = [
        record(p, "e", datetime(9999, 12, 5, tzinfo=UTC), "u1", received_at=late),
        record(p, "e", datetime.now(UTC), "u2"),
    ]
    result = await sink.apply(as_raw(records, partitions=1))
    assert (result.applied, result.dead_lettered) == (2, 0)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM events_default").fetchone() == (1,)
