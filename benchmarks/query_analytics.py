"""Latency of the raw-event analytics queries (issue 18): retention, paths, lifecycle, and
the funnel, counting persons and leaving bots out, over a bulk-loaded project.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.query_analytics [--events 1000000] [--large] [--runs 20]
                                         [--keep|--reuse]

It creates a schema ``bench_query_analytics`` (migrated) with one project, a member and a
session, and bulk-loads raw ``events`` with ``benchmarks.query_load`` (the same rows as
the query API's benchmark: 3/5 ``$pageview``, 1/5 ``signup``, 1/5 ``purchase``; one user
per 50 events) over 30 days (90 with ``--large``, which loads 10M events), then one
crawler event per 100 (flagged ``$bot``, its own ids) and an alias row merging one user in
20 into another (``person_aliases``), and VACUUMs (as autovacuum would). Then, through
HTTP (the query API's app in this process: auth, admission, the statement timeout and
freshness included), it prints p50 and p95 of ``--runs`` answers after one warm-up, over
the last 30 days: retention by day and by week, paths 3 steps next and previous, lifecycle
by day, and a 3-step funnel. Target: p95 < 1 s at 1M events on the reference machine.
"""

import argparse
import asyncio
import statistics
import time
from datetime import timedelta
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.query_api import load_average
from benchmarks.query_load import PREFIX, START, create_schema, load_raw, member, schema_url, step
from query_api.app import create_standalone_app
from query_api.settings import load_settings

SCHEMA = "bench_query_analytics"

_BOTS = """
INSERT INTO events (id, project_id, event, ts, received_at, distinct_id, session_id, properties)
SELECT gen_random_uuid(), %(project)s, '$pageview',
       %(start)s::timestamptz + %(span)s::interval * random(), now(),
       'crawler-' || (g %% 50), 'crawler-' || (g %% 50), '{"$bot": true}'::jsonb
FROM generate_series(1, %(bots)s::bigint) g
"""
_ALIASES = """
INSERT INTO person_aliases (project_id, distinct_id, person)
SELECT %(project)s, 'u' || n, 'u' || (n + 1) FROM generate_series(0, %(users)s - 2, 20) n
"""


def load(url: str, base_url: str, events: int, days: int) -> None:
    users = max(1, events // 50)
    project = create_schema(url, base_url, SCHEMA, days)
    print(f"loading {events:,} events ({users:,} users, {days} days)", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        load_raw(conn, project, events, users, days, events)
        params = {
            "project": project,
            "start": START,
            "span": timedelta(days=days),
            "bots": events // 100,
            "users": users,
        }
        step(f"bot rows {events // 100:,}", lambda: conn.execute(_BOTS, params))
        step(f"aliases {users // 20:,}", lambda: conn.execute(_ALIASES, params))
        step("vacuum analyze", lambda: conn.execute("VACUUM ANALYZE"))


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), p95


def queries(days: int) -> list[tuple[str, dict[str, Any]]]:
    end = START + timedelta(days=days)
    span = {
        "start": (end - timedelta(days=30)).isoformat(),
        "end": (end - timedelta(milliseconds=1)).isoformat(),
    }
    span_only = {"projectId": "bench", "dateRange": span}
    base = {**span_only, "timezone": "America/New_York"}
    retention = {"type": "retention", "startEvent": "signup", "returnEvent": "purchase"}
    paths = {"type": "paths", "startEvent": "signup", "steps": 3, "limit": 10}
    steps = [{"event": e} for e in ("$pageview", "signup", "purchase")]
    return [
        ("retention by day, 30 days", {**base, **retention, "interval": "day"}),
        ("retention by week, 30 days", {**base, **retention, "interval": "week"}),
        ("paths 3 steps next, 30 days", {**base, **paths, "direction": "next"}),
        ("paths 3 steps previous, 30 days", {**base, **paths, "direction": "previous"}),
        ("lifecycle by day, 30 days", {**base, "type": "lifecycle", "event": "signup"}),
        ("funnel 3 steps, 30 days", {**span_only, "type": "funnel", "steps": steps}),
    ]


async def measure(url: str, cookie: str, runs: int, days: int) -> None:
    base = load_settings()
    settings = type(base)(
        database_url=url, redis_url=base.redis_url, redis_prefix=PREFIX, statement_timeout_ms=30000
    )
    async with TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1")) as client:

        async def ask(body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post("/api/query", json=body, cookies={"ra_session": cookie})
            assert response.status == 200, await response.text()
            return dict(await response.json())

        async with await psycopg.AsyncConnection.connect(url) as conn:
            cursor = await conn.execute("SELECT count(*) FROM events")
            row = await cursor.fetchone()
        print(f"{row[0] if row else 0:,} raw events; {load_average()}", flush=True)
        for label, body in queries(days):
            await ask(body)  # warm-up: pages in memory
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                await ask(body)
                samples.append(time.perf_counter() - started)
            p50, p95 = p50_p95(samples)
            print(
                f"{label}: p50 {p50:.3f} s, p95 {p95:.3f} s of {runs} (target p95 < 1 s at 1M);"
                f" {load_average()}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--large", action="store_true", help="10M events over 90 days")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the schema for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a kept schema")
    args = parser.parse_args()
    events, days = (10_000_000, 90) if args.large else (args.events, 30)
    base = load_settings()
    url = schema_url(base.database_url, SCHEMA)
    try:
        if not args.reuse:
            load(url, base.database_url, events, days)
        cookie = member(url, base.redis_url)
        asyncio.run(measure(url, cookie, args.runs, days))
    finally:
        if not args.keep:
            with psycopg.connect(base.database_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
