"""Noisy neighbour on queries: a small project's query latency while another project
saturates its query share with wide funnels, against the real PostgreSQL and Redis.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.query_isolation [--noisy-events 1000000] [--clients 40]
                                         [--samples 300]

It creates a schema of its own (migrated) with two projects and one member of both:
``noisy`` holds ``--noisy-events`` raw events over 30 days (bulk-loaded with
``generate_series``), ``quiet`` a few thousand events over 3 days with their rollups.
Then it starts ``python -m query_api`` (its own process, default settings) and measures,
one query at a time, ``quiet``'s metric over its 3 days (a rollup read):

1. bare: no other load — p50/p99 of ``--samples`` queries;
2. noisy: while ``--clients`` clients ask ``noisy``'s 3-step funnel over its 30 days again
   and again (honouring Retry-After on a 429/503) — p50/p99 of as many queries, the
   ratio noisy p99 ÷ bare p99, and what the flood was answered (200s, 429s, 5xx).

Target: the quiet project's p99 under the flood < 200 ms. Each figure is printed with
the load average (a 2-core box shared with other work moves it).
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg
from redis.asyncio import Redis

from benchmarks.stack import (
    REPO_ROOT,
    free_port,
    fresh_redis_prefix,
    fresh_schema,
    read_services,
    stop_process,
    wait_ready,
)
from contracts.sessions import Session, encode_session, new_token, session_key
from contracts.sketches import HLL_PARAMETERS
from control_plane.projects import create_project

START = datetime(2026, 3, 1, tzinfo=UTC)
QUIET_EVENTS = 5_000
TARGET_P99_MS = 200.0

_RAW = """
INSERT INTO events (id, project_id, event, ts, received_at, distinct_id, session_id, properties)
SELECT gen_random_uuid(), %(project)s,
       (ARRAY['$pageview', '$pageview', 'signup', 'purchase'])[1 + g %% 4],
       %(start)s::timestamptz + %(span)s::interval * (g::float8 / %(events)s), now(),
       'u' || (hashint8(g) & %(users)s), 's' || g %% 5000,
       jsonb_build_object('$pathname', (ARRAY['/', '/pricing', '/docs'])[1 + g %% 3])
FROM generate_series(1, %(events)s) g
"""
_ROLLUPS = f"""
INSERT INTO rollups (project_id, event, granularity, bucket, events, users, sessions)
SELECT project_id, event, %(name)s, date_bin(%(width)s::interval, ts, '1970-01-01 00:00:00+00'),
       count(*), public.hll_add_agg(public.hll_hash_text(distinct_id), {HLL_PARAMETERS}),
       public.hll_add_agg(public.hll_hash_text(session_id), {HLL_PARAMETERS})
FROM events WHERE project_id = %(project)s GROUP BY 1, 2, 3, 4
"""
GRAINS = {"minute": "1 minute", "15min": "15 minutes", "hour": "1 hour", "day": "1 day"}


@dataclass(frozen=True, slots=True)
class Latency:
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class IsolationFigures:
    bare: Latency
    noisy: Latency
    flood: dict[str, int]  # "<status> <code>" -> answers the flooding clients got
    one_funnel_seconds: float

    @property
    def ratio(self) -> float:
        return self.noisy.p99_ms / self.bare.p99_ms


def window(start: datetime, days: int) -> dict[str, str]:
    end = start + timedelta(days=days) - timedelta(milliseconds=1)
    return {"start": start.isoformat(), "end": end.isoformat()}


WIDE_FUNNEL = {
    "type": "funnel",
    "projectId": "noisy",
    "dateRange": window(START, 30),
    "steps": [{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}],
    "conversionWindow": {"value": 7, "unit": "day"},
}
SIMPLE = {
    "type": "metric",
    "projectId": "quiet",
    "event": "$pageview",
    "dateRange": window(START, 3),
}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def latency(samples: list[float]) -> Latency:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Latency(statistics.median(ordered) * 1000, p99 * 1000)


async def tenants(url: str, redis_url: str, prefix: str, noisy_events: int) -> str:
    """Load both projects; the session cookie of a member of both."""
    user = str(uuid.uuid4())
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        noisy = await create_project(conn, "noisy", "Noisy", "enterprise")
        quiet = await create_project(conn, "quiet", "Quiet", "enterprise")
        await conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user, f"{user}@bench.test"),
        )
        for project in (noisy.id, quiet.id):
            await conn.execute(
                "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'member')",
                (project, user),
            )
        print(f"loading {noisy_events:,} raw events of 'noisy' over 30 days", flush=True)
        for project, events, days, users in (
            (noisy.id, noisy_events, 30, 65535),
            (quiet.id, QUIET_EVENTS, 3, 511),
        ):
            await conn.execute(
                _RAW,
                {
                    "project": project,
                    "start": START,
                    "span": timedelta(days=days),
                    "events": events,
                    "users": users,
                },
            )
        for name, width in GRAINS.items():
            await conn.execute(_ROLLUPS, {"name": name, "width": width, "project": quiet.id})
        await conn.execute("VACUUM ANALYZE events")
    cookie = new_token()
    redis = Redis.from_url(redis_url)
    session = Session(user, f"{user}@bench.test", datetime.now(UTC))
    await redis.set(session_key(prefix, cookie), encode_session(session), ex=3600)
    await redis.aclose()
    return cookie


@contextlib.asynccontextmanager
async def query_api(url: str, redis_url: str, prefix: str, log: Path) -> AsyncIterator[str]:
    """``python -m query_api`` on a free port with its default limits; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "RA_DATABASE_URL": url,
        "RA_REDIS_URL": redis_url,
        "RA_REDIS_PREFIX": prefix,
        "RA_QUERY_HOST": "127.0.0.1",
        "RA_QUERY_PORT": str(port),
    }
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "query_api",
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/api/query", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_process(process)


async def quiet_samples(session: aiohttp.ClientSession, base: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.post(f"{base}/api/query", json=SIMPLE) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"the quiet project's query got {response.status}")
        samples.append(time.perf_counter() - started)
    return samples


async def flood(
    session: aiohttp.ClientSession, base: str, stop: asyncio.Event, seen: Counter[str]
) -> None:
    """One client asking the wide funnel until ``stop``, honouring Retry-After."""
    while not stop.is_set():
        async with session.post(f"{base}/api/query", json=WIDE_FUNNEL) as response:
            body = await response.json(content_type=None)
            code = body.get("code", "") if isinstance(body, dict) else ""
            seen[f"{response.status} {code}".strip()] += 1
            retry = response.headers.get("Retry-After")
        if retry is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), float(retry))


async def measure(base: str, cookie: str, clients: int, samples: int) -> IsolationFigures:
    cookies = {"ra_session": cookie}
    connector = aiohttp.TCPConnector(limit=clients + 10)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        cookies=cookies, connector=connector, timeout=timeout
    ) as session:
        await quiet_samples(session, base, 20)  # warm-up: plans cached, pages in memory
        bare = latency(await quiet_samples(session, base, samples))
        print(f"quiet, bare: p50 {bare.p50_ms:.1f} ms, p99 {bare.p99_ms:.1f} ms; {load_average()}")
        started = time.perf_counter()
        async with session.post(f"{base}/api/query", json=WIDE_FUNNEL) as response:
            if response.status != 200:
                raise RuntimeError(
                    f"the wide funnel got {response.status}: {await response.text()}"
                )
        one_funnel = time.perf_counter() - started
        print(f"one wide funnel of 'noisy' alone: {one_funnel:.2f} s")
        stop, seen = asyncio.Event(), Counter[str]()
        floods = [asyncio.create_task(flood(session, base, stop, seen)) for _ in range(clients)]
        try:
            await asyncio.sleep(max(1.0, one_funnel))
            noisy = latency(await quiet_samples(session, base, samples))
        finally:
            stop.set()
            await asyncio.gather(*floods)
    print(
        f"quiet, while {clients} clients flood 'noisy' with wide funnels:"
        f" p50 {noisy.p50_ms:.1f} ms, p99 {noisy.p99_ms:.1f} ms"
        f" (target < {TARGET_P99_MS:.0f} ms); {load_average()}"
    )
    figures = IsolationFigures(bare, noisy, dict(seen), one_funnel)
    print(f"quiet p99 noisy ÷ bare: {figures.ratio:.1f}x")
    print(f"the flood's answers: {dict(sorted(seen.items()))}")
    return figures


async def run(noisy_events: int, clients: int, samples: int) -> IsolationFigures:
    services = read_services()
    suffix = uuid.uuid4().hex[:8]
    log = REPO_ROOT / ".local" / f"bench-query-isolation-{suffix}.log"
    log.parent.mkdir(exist_ok=True)
    async with (
        fresh_schema(services.database_url, f"bench_isolation_{suffix}") as url,
        fresh_redis_prefix(services.redis_url, f"bench:isolation:{suffix}:") as prefix,
    ):
        cookie = await tenants(url, services.redis_url, prefix, noisy_events)
        async with query_api(url, services.redis_url, prefix, log) as base:
            return await measure(base, cookie, clients, samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.query_isolation")
    parser.add_argument("--noisy-events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args(argv)
    asyncio.run(run(args.noisy_events, args.clients, args.samples))


if __name__ == "__main__":
    main()
