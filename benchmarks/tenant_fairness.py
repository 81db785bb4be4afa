"""Per-tenant fairness of ingest: a quiet project's freshness while a noisy one floods, with
overflow routing and without it, against the real services.

Run from the repository root, with the services of ``scripts/services.sh start`` up::

    python -m benchmarks.tenant_fairness [--seconds 60] [--noisy-rate 0] [--ratio 20]
        [--threshold 3000]

Each run: a fresh schema with two projects, fresh ``events`` and ``events-overflow`` topics,
a real gateway process (``benchmarks.stack.running_gateway``) and a worker process per lane
(``RA_WORKER_LANE=main|overflow``). A child process sends the noisy project's events to the
gateway, 100 per request, at ``--noisy-rate`` ev/s (0: as fast as the gateway takes them,
over 32 connections); this process sends the quiet project's at a ``--ratio``-th of that
rate (of the rate the gateway accepts, measured over 2 s, when unthrottled) in 100 ms
ticks, each tick under an event name of its own, and polls its day rollup. Freshness of a
tick: from the gateway's 200 (sent after Kafka's ack) to the day rollup counting all of
it. Two runs in one invocation: with routing (the gateway's overflow
threshold ``--threshold`` ev/s) and without it (threshold 0: everything on the main lane),
the baseline; then the ratio of their p95. Target: p95 < 2 s with routing.

``measure(seconds, noisy_rate, ratio)`` returns the figures for a composite benchmark
(``benchmarks.tenant_isolation``).
"""

import argparse
import asyncio
import contextlib
import math
import os
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psycopg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.loads import in_child_process
from benchmarks.stack import (
    REPO_ROOT,
    Services,
    free_port,
    fresh_redis_prefix,
    fresh_schema,
    gateway_env,
    new_public_key,
    read_services,
    running_gateway,
)
from benchmarks.stream_workers import load_average, percentile
from common.lag import kafka_positions
from tests.integration.stream_workers.workers import WorkerProcess

TICK = 0.1  # seconds
SENDERS = 32  # the noisy child's connections
THRESHOLD = 3000  # the gateway's default overflow threshold, ev/s


@dataclass(frozen=True, slots=True)
class Freshness:
    """One run's figures: the quiet project's freshness (seconds) and the loads reached."""

    routed: bool
    p50: float
    p95: float
    max: float
    unseen: int  # ticks never visible within a minute after the run
    ticks: int
    noisy_sent: int
    noisy_per_second: float
    quiet_sent: int
    overflowed: int  # noisy events the gateway appended to the overflow topic
    backlog: dict[str, int]  # records not yet applied per lane when the run ended


@dataclass(frozen=True, slots=True)
class FairnessFigures:
    routed: Freshness
    unrouted: Freshness

    @property
    def ratio(self) -> float:
        """How many times lower the quiet project's p95 is with routing."""
        return self.unrouted.p95 / max(self.routed.p95, 1e-9)


# ---------------------------------------------------------------- loads


def stopped(stop: str) -> bool:
    return os.path.exists(stop)


def signal_stop(stop: Path) -> None:
    stop.touch()


def events(name: str, count: int, first: int) -> list[dict[str, Any]]:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    return [
        {
            "event": name,
            "timestamp": stamp,
            "distinctId": f"u{(first + n) * 7919 % 100_000}",
            "sessionId": f"s{(first + n) % 1000}",
            "properties": {"$pathname": ("/", "/pricing", "/docs")[n % 3], "plan": "pro"},
        }
        for n in range(count)
    ]


async def flood(url: str, key: str, rate: int, stop: str) -> tuple[int, float]:
    """Send the noisy project's events, 100 a request, at ``rate`` ev/s (0: as fast as the
    gateway answers) until the file ``stop`` exists; the events answered 200, and the
    seconds it took."""
    bodies = [orjson.dumps(events("flood", 100, 100 * i)) for i in range(50)]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    start, slot, accepted = loop.time(), 0, 0

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal slot, accepted
        while not stopped(stop):
            slot += 1
            if rate:
                await asyncio.sleep(max(0.0, start + slot * 100 / rate - loop.time()))
            body = bodies[slot % len(bodies)]
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    accepted += 100 if response.status == 200 else 0

    connector = aiohttp.TCPConnector(limit=SENDERS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(sender(session) for _ in range(SENDERS)))
    return accepted, loop.time() - start


def flood_process(url: str, key: str, rate: int, stop: str) -> tuple[int, float]:
    return asyncio.run(flood(url, key, rate, stop))


async def post(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]) -> int:
    async with session.post(url, json=body, headers=headers) as response:
        await response.read()
        return response.status


async def quiet_ticks(
    url: str, key: str, database: str, project: str, rate: float, seconds: float, stop: Path
) -> list[float]:
    """Send ``rate`` ev/s of the quiet project in ticks on a fixed clock (a tick does not
    wait for the previous one's answer), then create ``stop``; seconds from each tick's
    200 to its day rollup counting all of it (inf: never within a minute)."""
    per_tick, ticks = max(1, round(rate * TICK)), int(seconds / TICK)
    acked: dict[str, float] = {}
    visible: dict[str, float] = {}
    run = uuid.uuid4().hex[:6]
    statuses: Counter[int] = Counter()
    all_sent = asyncio.Event()

    async def watch() -> None:
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            while not all_sent.is_set() or len(visible) < len(acked):
                pending = [name for name in acked if name not in visible]
                cursor = await conn.execute(
                    "SELECT event FROM rollups WHERE project_id = %s AND granularity = 'day'"
                    " AND event = ANY(%s) GROUP BY event HAVING sum(events) = %s",
                    (project, pending, per_tick),
                )
                now = time.perf_counter()
                for (name,) in await cursor.fetchall():
                    visible[name] = now
                await asyncio.sleep(0.02)

    async def send(session: aiohttp.ClientSession, tick: int) -> None:
        name = f"quiet-{run}-{tick}"
        tick_events = events(name, per_tick, tick * per_tick)
        answers = await asyncio.gather(
            *(
                post(session, url, tick_events[first : first + 100], headers)
                for first in range(0, per_tick, 100)  # at most 100 a request
            )
        )
        statuses.update(answers)
        if set(answers) == {200}:
            acked[name] = time.perf_counter()

    watcher = asyncio.create_task(watch())
    headers = {"X-API-Key": key}
    try:
        async with aiohttp.ClientSession() as session:
            start, sending = time.perf_counter(), []
            for tick in range(ticks):
                await asyncio.sleep(max(0.0, start + tick * TICK - time.perf_counter()))
                sending.append(asyncio.create_task(send(session, tick)))
            await asyncio.gather(*sending)
        all_sent.set()
        signal_stop(stop)  # the flood ends with the quiet load
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher, 60)
    finally:
        signal_stop(stop)
        watcher.cancel()
    if not acked:
        raise RuntimeError(f"no quiet request was answered 200: {dict(statuses)}")
    return sorted(visible.get(name, math.inf) - acked[name] for name in acked)


# ---------------------------------------------------------------- the stack of one run


@contextlib.asynccontextmanager
async def fresh_topics(bootstrap: str, names: list[str]) -> AsyncIterator[None]:
    """12-partition topics; afterwards every topic starting with the first name goes
    (the workers' dead-letter and Faust's own topics too)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 12, 1) for name in names])
        yield
    finally:
        mine = [t for t in await admin.list_topics() if t.startswith(names[0])]
        await admin.delete_topics(mine)
        await admin.close()


def scrape(url: str, prefix: str) -> float:
    """The sum of the samples starting with ``prefix`` on a /metrics page."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


async def accepted_rate(url: str, seconds: float = 2.0) -> float:
    """Events/s the gateway at ``url`` accepts now (an unthrottled flood's rate)."""
    before = await asyncio.to_thread(scrape, url, "ingest_events_accepted_total")
    await asyncio.sleep(seconds)
    after = await asyncio.to_thread(scrape, url, "ingest_events_accepted_total")
    return (after - before) / seconds


async def wait_answering(url: str) -> None:
    for _ in range(600):
        with contextlib.suppress(OSError):
            await asyncio.to_thread(scrape, url, "worker_events_applied_total")
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{url}/metrics never answered")


async def backlog(
    database: str, bootstrap: str, lanes: dict[str, tuple[str, str]]
) -> dict[str, int]:
    """Records on each lane's topic not yet applied by its group."""
    left = {}
    async with await psycopg.AsyncConnection.connect(database) as conn:
        for lane, (group, topic) in lanes.items():
            ends, _ = await kafka_positions(bootstrap, group, topic)
            cursor = await conn.execute(
                "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"
                " WHERE consumer = %s AND topic = %s",
                (group, topic),
            )
            row = await cursor.fetchone()
            left[lane] = sum(ends.values()) - int(row[0] if row else 0)
    return left


async def run_once(
    services: Services, seconds: float, noisy_rate: int, ratio: float, threshold: int
) -> Freshness:
    suffix = uuid.uuid4().hex[:8]
    topic = f"bench-fair-{suffix}"
    overflow = f"{topic}-overflow"
    lanes = {"main": (topic, topic), "overflow": (overflow, overflow)}  # group, topic
    logs = REPO_ROOT / ".local"
    async with (
        fresh_schema(services.database_url, f"bench_fair_{suffix}") as database,
        fresh_topics(services.kafka_bootstrap, [topic, overflow]),
        fresh_redis_prefix(services.redis_url, f"bench:fair:{suffix}:") as prefix,
    ):
        _, noisy_key = await new_public_key(database, f"noisy-{suffix}")
        quiet, quiet_key = await new_public_key(database, f"quiet-{suffix}")
        env = {
            **gateway_env(services, database, topic, prefix, free_port()),
            "RA_OVERFLOW_TOPIC": overflow,
            "RA_INGEST_OVERFLOW_EVENTS_PER_SECOND": str(threshold),
        }
        with tempfile.TemporaryDirectory() as tmp:
            workers = [
                WorkerProcess(
                    {
                        **env,
                        "RA_WORKER_LANE": lane,
                        "RA_WORKER_GROUP": topic,
                        "RA_WORKER_INSTANCE_ID": f"{lane}-1",
                        "RA_WORKER_DEAD_LETTER_TOPIC": f"{topic}-dlq",
                        "RA_WORKER_DATA_DIR": f"{tmp}/{lane}",
                    },
                    logs / f"bench-fair-{suffix}-{lane}.log",
                    REPO_ROOT,
                )
                for lane in lanes
            ]
            for worker in workers:
                worker.start()
            try:
                for worker in workers:
                    await wait_answering(f"http://127.0.0.1:{worker.port}")
                gateway_log = logs / f"bench-fair-{suffix}-gateway.log"
                async with running_gateway(env, gateway_log) as gateway:
                    stop = Path(tmp) / "stop"
                    flooding = asyncio.ensure_future(
                        in_child_process(
                            flood_process, gateway.url, noisy_key, noisy_rate, str(stop)
                        )
                    )
                    await asyncio.sleep(3)  # the child's start-up, and the flood under way
                    quiet_rate = (noisy_rate or await accepted_rate(gateway.url)) / ratio
                    lags = await quiet_ticks(
                        gateway.url, quiet_key, database, quiet, quiet_rate, seconds, stop
                    )
                    noisy_sent, flood_seconds = await flooding
                    overflowed = scrape(gateway.url, "ingest_overflow_events_total")
                left = await backlog(database, services.kafka_bootstrap, lanes)
            finally:
                for worker in workers:
                    worker.stop()
    per_tick = max(1, round(quiet_rate * TICK))
    return Freshness(
        routed=threshold > 0,
        p50=percentile(lags, 0.5),
        p95=percentile(lags, 0.95),
        max=lags[-1],
        unseen=sum(math.isinf(v) for v in lags),
        ticks=len(lags),
        noisy_sent=noisy_sent,
        noisy_per_second=noisy_sent / flood_seconds,
        quiet_sent=len(lags) * per_tick,
        overflowed=int(overflowed),
        backlog=left,
    )


def report(run: Freshness) -> str:
    label = "routing on " if run.routed else "routing off"
    return (
        f"{label}: quiet freshness p50 {run.p50:.2f} s p95 {run.p95:.2f} s max {run.max:.2f} s"
        f" ({run.unseen} of {run.ticks} ticks unseen); noisy {run.noisy_sent:,} events"
        f" ({run.noisy_per_second:,.0f} ev/s, {run.overflowed:,} on the overflow lane),"
        f" quiet {run.quiet_sent:,} (1 : {run.noisy_sent / max(1, run.quiet_sent):.1f});"
        f" backlog at the end: main {run.backlog['main']:,},"
        f" overflow {run.backlog['overflow']:,}; load average {load_average()}"
    )


async def measure(
    seconds: float, noisy_rate: int, ratio: float, threshold: int = THRESHOLD
) -> FairnessFigures:
    """Both runs, with routing first; each prints its figures as it ends."""
    services = read_services()
    routed = await run_once(services, seconds, noisy_rate, ratio, threshold)
    print(report(routed), flush=True)
    unrouted = await run_once(services, seconds, noisy_rate, ratio, 0)
    print(report(unrouted), flush=True)
    return FairnessFigures(routed, unrouted)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--noisy-rate", type=int, default=0, help="ev/s, 0: unthrottled")
    parser.add_argument("--ratio", type=float, default=20, help="noisy rate / quiet rate")
    parser.add_argument("--threshold", type=int, default=THRESHOLD, help="overflow ev/s")
    args = parser.parse_args()
    figures = await measure(args.seconds, args.noisy_rate, args.ratio, args.threshold)
    verdict = "PASS" if figures.routed.p95 < 2.0 else "MISS"
    print(
        f"quiet project's freshness p95: {figures.routed.p95:.2f} s with routing,"
        f" {figures.unrouted.p95:.2f} s without ({figures.ratio:.1f}x); target < 2 s: {verdict}"
    )


if __name__ == "__main__":
    asyncio.run(main())
