"""The capacity plan's measurements: what one PostgreSQL node stores and answers at N events.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.capacity --events 10000000 [--users 200000] [--days 90]
                                  [--runs 50] [--raw-runs 5] [--copy-rows 1000000]
                                  [--nice 10] [--schema bench_capacity] [--keep|--reuse]

One project's events are loaded into a schema of its own (``bench_capacity``) with the
query API benchmark's loader (``benchmarks.query_api``: raw ``events`` in arrival order by
``INSERT ... SELECT generate_series``, then the rollups the queries read), vacuumed as
autovacuum leaves an insert-only table, and then it prints, each figure with the load
average:

- the raw load's rows/s (``generate_series`` inside the server, both indexes maintained);
- bytes on disk per raw event (heap, each index, TOAST) and per rollup row, by granularity;
- median and p90 of the 30-day timeseries, ``$pathname`` breakdown (a rollup) and unique
  users through HTTP (the query API's app in this process, auth included), and by direct
  call, as the handler makes them, of what reads raw events: a breakdown by a property
  without rollups (``$browser``) and a 3-step funnel over 7 and 30 days, against the query
  API's statement timeout;
- the raw store's insert ceiling: ``--copy-rows`` rows of the last month (new ids, read
  out beforehand) written back by one ``COPY events FROM STDIN`` (text) — rows/s, and the
  WAL it wrote per row (then rolled back, so a rerun measures the same table).

The loading backend runs at ``--nice`` (the load is what other work on the machine
feels); the measurements run at normal priority. The schema is dropped at the end unless
``--keep`` (``--reuse`` then measures it again without loading: pass the same
``--events``/``--days``).
"""

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient, TestServer
from psycopg import sql

from benchmarks.query_api import document, load_average, timed
from benchmarks.query_load import (
    START,
    create_schema,
    load_raw,
    load_rollups,
    member,
    schema_url,
    step,
)
from query_api import answers, funnels
from query_api.app import create_standalone_app
from query_api.model import Breakdown, Funnel
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS, Settings, load_settings

SCHEMA = "bench_capacity"  # the default; --schema keeps two sizes side by side
PREFIX = "bench:capacity:"

_EVENT_SIZES = """
SELECT count(*) FILTER (WHERE c.relkind = 'r'),
       coalesce(sum(pg_relation_size(c.oid)) FILTER (WHERE c.relkind = 'r'), 0),
       coalesce(sum(pg_total_relation_size(c.oid) - pg_relation_size(c.oid)
                    - pg_indexes_size(c.oid)) FILTER (WHERE c.relkind = 'r'), 0)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass
"""

_COPY_IN = (
    "COPY events (id, project_id, event, ts, received_at, distinct_id, session_id,"
    " properties, insert_id, context) FROM STDIN"
)

# Each index of the parent, summed over its partitions' indexes.
_INDEX_SIZES = """
SELECT p.relname, sum(pg_relation_size(i.inhrelid))
FROM pg_class p JOIN pg_index x ON x.indexrelid = p.oid
JOIN pg_inherits i ON i.inhparent = p.oid
WHERE x.indrelid = 'events'::regclass GROUP BY 1 ORDER BY 1
"""


def nice_backend(conn: psycopg.Connection[Any], niceness: int) -> None:
    """Lower the priority of ``conn``'s server process: a bulk load runs in the backend,
    not in this client, so niceness given to this process would not reach it."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    if row is not None and niceness:
        os.setpriority(os.PRIO_PROCESS, int(row[0]), niceness)


def median_p90(samples: list[float]) -> tuple[float, float]:
    """Median and p90 in milliseconds."""
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return statistics.median(ordered) * 1000, p90 * 1000


def verdict(seconds: float, timeout_ms: int) -> str:
    return "EXCEEDED" if seconds * 1000 > timeout_ms else "met"


def print_figure(label: str, samples: list[float], note: str = "") -> None:
    median, p90 = median_p90(samples)
    print(
        f"  {label}: median {median:,.1f} ms, p90 {p90:,.1f} ms of {len(samples)}"
        f"{'; ' + note if note else ''}; {load_average()}",
        flush=True,
    )


def load(
    url: str, base_url: str, schema: str, events: int, users: int, days: int, niceness: int
) -> None:
    project = create_schema(url, base_url, schema, days)
    with psycopg.connect(url, autocommit=True) as conn:
        nice_backend(conn, niceness)
        print(f"loading {events:,} events ({users:,} users, {days} days)", flush=True)
        before = load_average()
        seconds = load_raw(conn, project, events, users, days, events)
        print(
            f"raw load (INSERT ... SELECT generate_series in the server, both indexes, chunks"
            f" of 1M rows): {events:,} rows in {seconds:.1f} s = {events / seconds:,.0f} rows/s;"
            f" at start {before}; at end {load_average()}",
            flush=True,
        )
        step("analyze events", lambda: conn.execute("ANALYZE events"))
        load_rollups(conn)
        # What autovacuum does to an insert-only table: the visibility map lets the
        # funnel's index-only scans skip the heap.
        step("vacuum analyze events", lambda: conn.execute("VACUUM ANALYZE events"))


def print_sizes(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        events = int(row[0]) if row else 0
        sizes = conn.execute(_EVENT_SIZES).fetchone()
        assert sizes is not None
        partitions, heap, toast = int(sizes[0]), int(sizes[1]), int(sizes[2])
        indexes = [(str(n), int(b)) for n, b in conn.execute(_INDEX_SIZES).fetchall()]
        total = heap + toast + sum(b for _, b in indexes)
        print(
            f"raw events: {events:,} rows in {partitions} partitions, {total / 2**30:.2f} GiB:"
            f" {total / events:.0f} bytes per event = heap {heap / events:.0f}"
            f" + TOAST {toast / events:.0f}"
            + "".join(f" + {name} {size / events:.0f}" for name, size in indexes),
            flush=True,
        )
        for table in ("rollups", "breakdown_rollups"):
            total_row = conn.execute(
                sql.SQL("SELECT count(*), pg_total_relation_size({}) FROM {}").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            ).fetchone()
            assert total_row is not None
            rows, size = int(total_row[0]), int(total_row[1])
            grains = conn.execute(
                sql.SQL(
                    "SELECT granularity, count(*), avg(pg_column_size(t.*))::bigint"
                    " FROM {} t GROUP BY 1 ORDER BY 2 DESC"
                ).format(sql.Identifier(table))
            ).fetchall()
            print(
                f"{table}: {rows:,} rows, {size / 2**20:,.1f} MiB with indexes and TOAST ="
                f" {size / max(rows, 1):,.0f} bytes per row; row size by granularity (stored,"
                " compressed): "
                + ", ".join(f"{g} {int(n):,} rows x {int(b):,} B" for g, n, b in grains),
                flush=True,
            )


def _query(kind: str, start: datetime, end: datetime, **extra: Any) -> Any:
    return parse_query(document(kind, start, end, **extra), DEFAULT_MAX_RANGE_SECONDS)


async def measure_rollup_queries(settings: Settings, cookie: str, runs: int, end: datetime) -> None:
    """The dashboard's reads, as a user gets them: through HTTP, from the rollups."""
    month = (end - timedelta(days=30), end)
    app = create_standalone_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:

        async def ask(body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post("/api/query", json=body, cookies={"ra_session": cookie})
            assert response.status == 200, await response.text()
            return dict(await response.json())

        for label, body in [
            (
                "timeseries $pageview 30 days hourly",
                document("timeseries", *month, event="$pageview", interval="hour"),
            ),
            (
                "breakdown $pathname top 10, 30 days",
                document("breakdown", *month, event="$pageview", breakdown="$pathname"),
            ),
            (
                "unique users 30 days (+ previous 30)",
                document("metric", *month, event="$pageview", metric="unique_users"),
            ),
        ]:
            answer = await ask(body)
            samples = await timed(runs, partial(ask, body))
            meta = answer["meta"]
            print_figure(f"{label}, HTTP", samples, f"{meta['source']} {meta['rollup']}")


async def measure_raw_queries(
    url: str, runs: int, end: datetime, workers: int, timeout_ms: int
) -> None:
    """What reads the raw events, by direct call (no statement timeout, so a time past the
    query API's is measured rather than refused)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT id FROM projects")).fetchone()
        assert row is not None
        project = str(row[0])
        for days in (7, 30):
            start = end - timedelta(days=days)
            counted = await (
                await conn.execute(
                    "SELECT count(*) FROM events WHERE ts >= %s AND ts < %s", (start, end)
                )
            ).fetchone()
            in_range = int(counted[0]) if counted else 0
            breakdown = _query("breakdown", start, end, event="$pageview", breakdown="$browser")
            assert isinstance(breakdown, Breakdown)
            funnel = _query(
                "funnel",
                start,
                end,
                steps=[{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}],
                conversionWindow={"value": 1, "unit": "day"},
            )
            assert isinstance(funnel, Funnel)
            calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                (
                    f"breakdown $browser (no rollup: raw), {days} days",
                    partial(answers.breakdown, conn, project, breakdown),
                ),
                (
                    f"funnel 3 steps, {days} days, {workers} worker(s)",
                    partial(funnels.funnel, conn, project, funnel, workers),
                ),
            ]
            for label, call in calls:
                samples = await timed(runs, call)
                median = statistics.median(samples)
                print_figure(
                    f"{label} ({in_range:,} events in range)",
                    samples,
                    f"{median / in_range * 1e9:.0f} ns per event in range; query API timeout"
                    f" {timeout_ms / 1000:.0f} s {verdict(median, timeout_ms)}",
                )


def measure_copy(url: str, rows: int) -> None:
    """The raw store's insert ceiling: rows of the last whole month, read out first (new
    ids), written back by one text ``COPY`` into ``events``, which routes them to that
    month's partition and maintains both of its indexes. Its transaction is rolled back and
    the partition vacuumed afterwards, so a rerun (``--reuse``) measures the same table."""
    with psycopg.connect(url, autocommit=True) as conn:
        bounds = conn.execute("SELECT max(ts) FROM events").fetchone()
        assert bounds is not None and bounds[0] is not None
        latest = bounds[0].replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        month = (latest - timedelta(days=1)).replace(day=1)  # the last whole month
        buffer = bytearray()
        source = sql.SQL(
            "COPY (SELECT gen_random_uuid(), project_id, event, ts, received_at, distinct_id,"
            " session_id, properties, insert_id, context FROM events"
            " WHERE ts >= {} LIMIT {}) TO STDOUT"  # heap order: arrival order
        ).format(sql.Literal(month), sql.Literal(rows))
        with conn.cursor() as cursor, cursor.copy(source) as copy:
            for chunk in copy:
                buffer += chunk
        partition = conn.execute(
            "SELECT tableoid::regclass::text FROM events WHERE ts >= %s LIMIT 1", (month,)
        ).fetchone()
        assert partition is not None
        before = load_average()
        with conn.transaction(force_rollback=True):
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
            assert lsn is not None
            started = time.perf_counter()
            with conn.cursor() as cursor, cursor.copy(_COPY_IN) as copy:
                copy.write(bytes(buffer))
            seconds = time.perf_counter() - started
            wal = conn.execute("SELECT pg_current_wal_lsn() - %s::pg_lsn", (lsn[0],)).fetchone()
            assert wal is not None
        after = load_average()
        step("vacuum the rolled-back rows", lambda: conn.execute(f"VACUUM {partition[0]}"))
    print(
        f"raw store insert ceiling (one text COPY into events, both indexes, into"
        f" {partition[0]}; time to the end of the COPY, then rolled back): {rows:,} rows"
        f" ({len(buffer) / rows:.0f} bytes of COPY text each) in {seconds:.1f} s ="
        f" {rows / seconds:,.0f} rows/s; WAL {int(wal[0]) / rows:.0f} bytes per row;"
        f" at start {before}; at end {after}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=50, help="runs of each rollup query")
    parser.add_argument("--raw-runs", type=int, default=5, help="runs of each raw query")
    parser.add_argument("--copy-rows", type=int, default=1_000_000)
    parser.add_argument("--nice", type=int, default=10, help="niceness of the loading backend")
    parser.add_argument("--schema", default=SCHEMA)
    parser.add_argument("--keep", action="store_true", help="leave the schema for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a kept schema")
    args = parser.parse_args()
    base = load_settings()
    url = schema_url(base.database_url, args.schema)
    end = START + timedelta(days=args.days)
    try:
        if not args.reuse:
            load(url, base.database_url, args.schema, args.events, args.users, args.days, args.nice)
        print_sizes(url)
        settings = Settings(database_url=url, redis_url=base.redis_url, redis_prefix=PREFIX)
        cookie = member(url, base.redis_url, PREFIX)
        print(f"queries at {args.events:,} events:", flush=True)
        asyncio.run(measure_rollup_queries(settings, cookie, args.runs, end))
        asyncio.run(
            measure_raw_queries(
                url, args.raw_runs, end, base.funnel_workers, base.statement_timeout_ms
            )
        )
        if args.copy_rows:
            # Last: the copied rows would otherwise be in the figures above.
            measure_copy(url, args.copy_rows)
    finally:
        if not args.keep:
            with psycopg.connect(base.database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(args.schema))
                )


if __name__ == "__main__":
    main()
