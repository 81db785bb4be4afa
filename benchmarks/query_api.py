"""Latency of the query API over a bulk-loaded project, against the real PostgreSQL/Redis.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.query_api [--events 10000000] [--users 200000] [--days 90]
                                   [--runs 200] [--funnel-runs 10] [--funnel-only]
                                   [--explain] [--keep|--reuse]

It creates a schema ``bench_query_api`` (migrated), one project with a member and a
session, and bulk-loads with ``generate_series`` the tables the stream workers write:
raw ``events`` (monthly partitions, as the workers create them), ``rollups`` at every
granularity and ``breakdown_rollups`` of ``$pathname`` at hour and day granularity (the
finer ones are not needed by the queries measured; the load says so). Then, through HTTP
(the query API's app in this process, with the session cookie, auth and freshness
included) it measures p50/p99 of: a 30-day hourly timeseries (target p99 < 25 ms), a
30-day breakdown top-10, unique users over 30 days; the same timeseries forced through the
raw store (direct call, and the ratio raw ÷ rollup, target >= 100x). Then it VACUUMs the
raw events, as autovacuum does to an insert-only table (index-only scans then skip the
heap), measures that ratio again, and a 3-step funnel over the first days of the range,
holding about 1M events (direct call, as the handler makes it; target < 1 s).

``--funnel-only`` loads just the raw events of the first month — the same rows, in the
same order, as the full load puts in the partition the funnel reads (~3.5M of 10M, under
a minute) — and measures the funnel alone. ``--explain`` prints the funnel's EXPLAIN
(ANALYZE, BUFFERS). Every figure is printed with the load average.
``--keep`` leaves the schema for a rerun (``--reuse`` then skips loading; pass the same
``--events``/``--days``).
"""

import argparse
import asyncio
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.query_load import (
    PREFIX,
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
from query_api.model import Funnel
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS, load_settings

SCHEMA = "bench_query_api"


FUNNEL_EVENTS = 1_000_000  # about this many events in the funnel's range


def load(url: str, base_url: str, events: int, users: int, days: int, funnel_only: bool) -> None:
    project = create_schema(url, base_url, SCHEMA, days)
    with psycopg.connect(url, autocommit=True) as conn:
        # Rows are numbered in arrival order; the first month's (and a little more, for the
        # jitter) are the first 32/days of them.
        loaded = min(events, math.ceil(events * 32 / days)) if funnel_only else events
        print(
            f"loading {loaded:,} of {events:,} events ({users:,} users, {days} days)"
            + (": the first month, for the funnel" if funnel_only else ""),
            flush=True,
        )
        load_raw(conn, project, events, users, days, loaded)
        step("analyze events", lambda: conn.execute("ANALYZE events"))
        if not funnel_only:
            load_rollups(conn)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    await call()  # warm-up: plans cached, pages in memory
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def document(kind: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "projectId": "bench",
        **extra,
        "dateRange": {
            "start": start.isoformat(),
            "end": (end - timedelta(milliseconds=1)).isoformat(),
        },
    }


async def measure(url: str, cookie: str, runs: int, days: int) -> None:
    base = load_settings()
    settings = type(base)(database_url=url, redis_url=base.redis_url, redis_prefix=PREFIX)
    end = START + timedelta(days=days)
    month = (end - timedelta(days=30), end)
    series = document("timeseries", *month, event="$pageview", interval="hour")
    async with TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1")) as client:

        async def ask(body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post("/api/query", json=body, cookies={"ra_session": cookie})
            assert response.status == 200, await response.text()
            return dict(await response.json())

        figures: list[tuple[str, float, float, str]] = []
        for label, body, target in [
            ("timeseries 30 days hourly", series, "p99 < 25 ms"),
            (
                "breakdown $pathname top 10, 30 days",
                document("breakdown", *month, event="$pageview", breakdown="$pathname"),
                "",
            ),
            (
                "unique users over 30 days",
                document("metric", *month, event="$pageview", metric="unique_users"),
                "",
            ),
        ]:
            answer = await ask(body)
            samples = await timed(runs, partial(ask, body))
            p50, p99 = percentiles(samples)
            print(
                f"{label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({answer['meta']['source']}"
                f" {answer['meta']['rollup']}) {target}; {load_average()}",
                flush=True,
            )
            figures.append((label, p50, p99, target))
    await measure_raw_ratio(url, runs, days, "same timeseries, direct")


async def measure_raw_ratio(url: str, runs: int, days: int, label: str) -> None:
    end = START + timedelta(days=days)
    series = document(
        "timeseries", end - timedelta(days=30), end, event="$pageview", interval="hour"
    )
    q = parse_query(series, DEFAULT_MAX_RANGE_SECONDS)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        project = str((await (await conn.execute("SELECT id FROM projects")).fetchone())[0])  # type: ignore[index]
        rollup = await timed(runs, lambda: answers.timeseries(conn, project, q))  # type: ignore[arg-type]
        raw = await timed(3, lambda: answers.timeseries(conn, project, q, force_raw=True))  # type: ignore[arg-type]
        r50, _ = percentiles(rollup)
        w50, _ = percentiles(raw)
        print(
            f"{label}: rollup p50 {r50:.2f} ms, raw p50 {w50:.0f} ms,"
            f" ratio {w50 / r50:.0f}x (target >= 100x); {load_average()}",
            flush=True,
        )


def vacuum(url: str) -> None:
    """What autovacuum does to an insert-only table once it has grown by a fifth: sets
    the visibility map (index-only scans then skip the heap) and the statistics."""
    with psycopg.connect(url, autocommit=True) as conn:
        step("vacuum analyze events", lambda: conn.execute("VACUUM ANALYZE events"))


async def measure_funnel(
    url: str, runs: int, events: int, days: int, workers: int, explain: bool
) -> None:
    """A 3-step funnel over the range's first ~1M events (direct call, as the handler makes
    it): median, p90 and max of ``runs`` after one warm-up."""
    span = timedelta(days=days * FUNNEL_EVENTS / events)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        project = str((await (await conn.execute("SELECT id FROM projects")).fetchone())[0])  # type: ignore[index]
        row = await (
            await conn.execute(
                "SELECT count(*), count(DISTINCT distinct_id) FROM events"
                " WHERE ts >= %s AND ts < %s",
                (START, START + span),
            )
        ).fetchone()
        in_range, users = (int(row[0]), int(row[1])) if row else (0, 0)
        q = parse_query(
            document(
                "funnel",
                START,
                START + span,
                steps=[{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}],
                conversionWindow={"value": 1, "unit": "day"},
            ),
            DEFAULT_MAX_RANGE_SECONDS,
        )
        assert isinstance(q, Funnel)
        if explain:
            await _explain(conn, project, q, workers)
        samples = await timed(runs, lambda: funnels.funnel(conn, project, q, workers))
        answer = await funnels.funnel(conn, project, q, workers)
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    print(
        f"funnel 3 steps over {in_range:,} events ({span.total_seconds() / 86400:.1f} days,"
        f" {users:,} users), {workers} worker(s): median {statistics.median(samples):.3f} s,"
        f" p90 {p90:.3f} s, max {max(samples):.3f} s of {runs} (target < 1 s);"
        f" users per step {[s['users'] for s in answer['steps']]},"
        f" median seconds {[s['medianSecondsToConvert'] for s in answer['steps']]};"
        f" {load_average()}",
        flush=True,
    )


async def _explain(
    conn: psycopg.AsyncConnection[Any], project: str, q: Funnel, workers: int
) -> None:
    async with conn.transaction():
        parallel = str(workers if workers > 1 else 0)
        for name, value in (
            *funnels.FUNNEL_SETTINGS,
            ("max_parallel_workers_per_gather", parallel),
        ):
            await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        bounds = await funnels.slice_bounds(conn, project, q, workers)
        statement, params = funnels.funnel_statement(q, project, bounds)
        cursor = await conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        print(f"slice bounds {bounds}", flush=True)
        for (line,) in await cursor.fetchall():
            print(f"  {line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--funnel-runs", type=int, default=10)
    parser.add_argument(
        "--funnel-only", action="store_true", help="load the first month, measure the funnel"
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the funnel")
    parser.add_argument("--keep", action="store_true", help="leave the schema for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a kept schema")
    args = parser.parse_args()
    base = load_settings()
    url = schema_url(base.database_url, SCHEMA)
    try:
        if not args.reuse:
            load(url, base.database_url, args.events, args.users, args.days, args.funnel_only)
        print(load_average(), flush=True)
        if not args.funnel_only:
            # Measured right after the load, as the figures before the funnel's were.
            cookie = member(url, base.redis_url)
            asyncio.run(measure(url, cookie, args.runs, args.days))
        vacuum(url)
        if not args.funnel_only:
            asyncio.run(measure_raw_ratio(url, args.runs, args.days, "same timeseries, vacuumed"))
        asyncio.run(
            measure_funnel(
                url, args.funnel_runs, args.events, args.days, base.funnel_workers, args.explain
            )
        )
    finally:
        if not args.keep:
            with psycopg.connect(base.database_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
