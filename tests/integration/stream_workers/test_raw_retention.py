"""The retention job against real PostgreSQL (issue 17, docs/decisions/0016): whole tables
dropped, leftovers of a run that died finished, late events stored again rather than
dead-lettered, months made before the split dropped by the longest retention, one run at a
time per shard."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from stream_workers.retention import RUN_LOCK, RUN_LOCK_SQL, Retainer
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

JULY = datetime(2026, 7, 15, 12, tzinfo=UTC)
TODAY = date(2026, 9, 10)  # July is past a 30-day retention, not past 365 days


def retainer(database: str) -> Retainer:
    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(database, autocommit=True)

    return Retainer("default", connect, connect)


def table_of(project: str, month: str = "2026_07") -> str:
    return f"events_{month}_p{project.replace('-', '')}"


def keep_for(database: str, project: str, days: int) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET raw_retention_days = %s WHERE id = %s", (days, project))


def count(database: str, statement: str, *params: object) -> Any:
    with psycopg.connect(database) as conn:
        row = conn.execute(statement, params).fetchone()
    return row[0] if row else None


async def test_a_late_event_into_a_dropped_month_is_stored_again_not_dead_lettered(
    sink, make_project, database, dead_letters
):
    a = await make_project("apricot")
    batch = [record(a, "e", JULY, "u1"), record(a, "e", JULY, "u2")]
    assert (await sink.apply(as_raw(batch, partitions=1))).applied == 2
    keep_for(database, a, 30)
    run = await retainer(database).run(TODAY)
    assert run is not None and run.dropped == (table_of(a),)
    assert count(database, "SELECT count(*) FROM events WHERE project_id = %s", a) == 0

    # The sink made sure of that table before: it is made again, and the event stored
    # (dropped again by the next run), never refused as bad data.
    late = [record(a, "e", JULY, "u3")]
    raws = as_raw(batch + late, partitions=1)[2:]
    result = await sink.apply(raws)
    assert (result.applied, result.dead_lettered, dead_letters) == (1, 0, [])
    assert count(database, "SELECT count(*) FROM events WHERE project_id = %s", a) == 1
    assert count(database, "SELECT sum(events) FROM rollups WHERE granularity = 'day'") == 3


async def test_a_detach_left_pending_by_a_run_that_died_is_finished(sink, make_project, database):
    a, b = await make_project("apricot"), await make_project("bilberry")
    await sink.apply(as_raw([record(a, "e", JULY, "u1"), record(b, "e", JULY, "u1")]))
    # A concurrent detach interrupted while it waited for a reader: left pending.
    with psycopg.connect(database) as reader, psycopg.connect(database, autocommit=True) as ddl:
        reader.execute("SELECT count(*) FROM events WHERE project_id = %s", (a,))
        ddl.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            ddl.execute(f"ALTER TABLE events_2026_07 DETACH PARTITION {table_of(a)} CONCURRENTLY")
        reader.rollback()
    pending = "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = to_regclass(%s)"
    assert count(database, pending, table_of(a)) is True
    keep_for(database, a, 30)
    run = await retainer(database).run(TODAY)
    assert run is not None and run.dropped == (table_of(a),)
    assert count(database, "SELECT to_regclass(%s)", table_of(a)) is None
    assert count(database, "SELECT count(*) FROM events WHERE project_id = %s", b) == 1


async def test_unsplit_months_go_by_the_longest_retention_and_stray_rows_by_their_own(
    sink, make_project, database
):
    a, b = await make_project("apricot"), await make_project("bilberry")
    with psycopg.connect(database, autocommit=True) as conn:  # as before migration 0038
        conn.execute(
            "CREATE TABLE events_2022_03 PARTITION OF events"
            " FOR VALUES FROM ('2022-03-01 00:00+00') TO ('2022-04-01 00:00+00')"
        )
    march = datetime(2022, 3, 10, tzinfo=UTC)
    now = datetime.now(UTC)
    wild_past, wild_future = datetime(2015, 1, 1, tzinfo=UTC), now + timedelta(days=60)
    records = [
        record(a, "e", march, "u1"),
        record(b, "e", march, "u1"),
        record(a, "e", wild_past, "u2"),  # wild clocks: the DEFAULT partition
        record(b, "e", wild_future, "u2"),
        record(b, "e", now, "u3"),
    ]
    assert (await sink.apply(as_raw(records))).applied == 5
    assert count(database, "SELECT count(*) FROM events_2022_03") == 2
    keep_for(database, a, 30)
    keep_for(database, b, 730)

    run = await retainer(database).run()
    assert run is not None and run.dropped == ("events_2022_03",) and run.stray_rows == 1
    rows = "SELECT count(*) FROM events WHERE project_id = %s"
    assert (count(database, rows, a), count(database, rows, b)) == (0, 2)
    again = await retainer(database).run()
    assert again is not None and (again.dropped, again.stray_rows) == ((), 0)
    assert count(database, "SELECT count(*) FROM retention_runs WHERE error IS NULL") == 2


async def test_one_run_at_a_time_per_shard(make_project, database):
    with psycopg.connect(database, autocommit=True) as other:
        other.execute(RUN_LOCK_SQL, (RUN_LOCK,))  # another worker of the shard, running
        assert await retainer(database).run(TODAY) is None
    run = await retainer(database).run(TODAY)
    assert run is not None and run.dropped == ()
