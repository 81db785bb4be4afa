"""Per-tenant fairness of one stream worker: a quiet project's freshness while a noisy one
floods, against the real services.

Run from the repository root, with the services of ``scripts/services.sh start`` up::

    python -m benchmarks.tenant_fairness [--noisy-rate 20000] [--ratio 20] [--seconds 60]
        [--batch-max 100000] [--backlog 0]

One worker process (``python -m stream_workers worker``) on a fresh 12-partition topic
and a fresh schema with two projects. A child process appends the noisy project's events
at ``--noisy-rate`` ev/s (0: as fast as one aiokafka producer goes); this process appends
the quiet project's at a ``--ratio``-th of that rate (of the rate reached, when
unthrottled) in 100 ms ticks, each tick under an event name of its own, and polls its day
rollup. Freshness of a tick: from its acknowledged append (the gateway's 200 waits for
it, and stamps receivedAt just before) to the day rollup counting all of it. Prints the
quiet project's p50/p95/max, the rates reached, the worker's batches over the run (size
and sink time per batch, from its /metrics) and the backlog left at the end.
"""

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.loads import in_child_process
from benchmarks.stream_workers import applied, load_average, percentile, reached, records
from contracts.events import encode_record, record_key
from migrations.runner import apply_migrations
from tests.fixtures.services import read_env_file
from tests.integration.stream_workers.workers import WorkerProcess, produce

ROOT = Path(__file__).resolve().parents[1]
TICK = 0.1  # seconds
CHUNK = 2000  # records the unthrottled producer sends before awaiting their acks


def stopped(stop: str) -> bool:
    return os.path.exists(stop)


def signal_stop(stop: Path) -> None:
    stop.touch()


async def flood(bootstrap: str, topic: str, project: str, rate: int, stop: str) -> int:
    """Append ``project``'s events at ``rate`` ev/s (0: unthrottled) until the file ``stop``
    exists (a spawned child starts seconds later than its parent asks it to)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    sent, tick = 0, 0
    try:
        start = time.perf_counter()
        while not stopped(stop):
            if rate:
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * TICK - time.perf_counter()))
                count = round(rate * tick * TICK) - sent
            else:
                count = CHUNK
            batch = records(project, count, 100_000, sent, spread=60)
            acks = [
                await producer.send(topic, encode_record(r), key=record_key(project, r.distinct_id))
                for r in batch
            ]
            await asyncio.gather(*acks)
            sent += count
    finally:
        await producer.stop()
    return sent


def flood_process(bootstrap: str, topic: str, project: str, rate: int, stop: str) -> int:
    return asyncio.run(flood(bootstrap, topic, project, rate, stop))


async def solo_rate(bootstrap: str, topic: str, tmp: str) -> float:
    """The unthrottled flood's rate over 5 s, alone."""
    stop = Path(tmp) / "probe-stop"
    flooding = asyncio.ensure_future(
        in_child_process(flood_process, bootstrap, topic, str(uuid.uuid4()), 0, str(stop))
    )
    await asyncio.sleep(8)  # the child's start-up, then about 5 s of sending
    signal_stop(stop)
    return float(await flooding) / 5


async def quiet_ticks(
    bootstrap: str,
    topic: str,
    database: str,
    project: str,
    rate: float,
    seconds: float,
    stop: Path,
) -> list[float]:
    """Append ``rate`` ev/s of ``project`` in ticks, then create ``stop``; seconds from
    each tick's acked append to its day rollup counting all of it (inf: never seen within
    a minute after the run)."""
    per_tick, ticks = max(1, round(rate * TICK)), int(seconds / TICK)
    acked: dict[str, float] = {}
    visible: dict[str, float] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()

    async def watch() -> None:
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            while len(visible) < ticks:
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

    watcher = asyncio.create_task(watch())
    try:
        start = time.perf_counter()
        for tick in range(ticks):
            await asyncio.sleep(max(0.0, start + tick * TICK - time.perf_counter()))
            name = f"quiet-{tick}"
            batch = records(project, per_tick, 1000, tick * per_tick, name, spread=1)
            acks = [
                await producer.send(topic, encode_record(r), key=record_key(project, r.distinct_id))
                for r in batch
            ]
            await asyncio.gather(*acks)
            acked[name] = time.perf_counter()
        signal_stop(stop)  # the flood ends with the quiet load
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher, 60)
    finally:
        watcher.cancel()
        await producer.stop()
    return sorted(visible.get(name, math.inf) - acked[name] for name in acked)


def scrape(port: int) -> dict[str, float]:
    """The worker's batch histograms' sums and counts."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    wanted = (
        "worker_flush_seconds_sum",
        "worker_flush_seconds_count",
        "worker_batch_size_sum",
        "worker_events_applied_total",
    )
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            out[name] = float(value)
    return out


async def wait_scrapable(port: int) -> dict[str, float]:
    for _ in range(600):
        with contextlib.suppress(OSError):
            return scrape(port)
        await asyncio.sleep(0.1)
    raise TimeoutError("the worker's /metrics never answered")


def new_project(conn: psycopg.Connection, slug: str) -> str:
    row = conn.execute(
        "INSERT INTO projects (slug, name, plan, monthly_event_limit)"
        " VALUES (%s, %s, 'enterprise', 1000000000) RETURNING id::text",
        (slug, slug),
    ).fetchone()
    assert row is not None
    return str(row[0])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noisy-rate", type=int, default=20_000, help="ev/s, 0: unthrottled")
    parser.add_argument("--ratio", type=float, default=20, help="noisy rate / quiet rate")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch-max", type=int, default=None, help="RA_WORKER_BATCH_MAX")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="noisy events on the topic before the worker starts (a burst it has to drain)",
    )
    args = parser.parse_args()
    env = read_env_file(ROOT / ".local" / "services.env")
    schema = f"fair_{uuid.uuid4().hex[:8]}"
    topic = group = f"bench-{schema}"
    apply_migrations(env["RA_DATABASE_URL"], schema=schema)
    database = f"{env['RA_DATABASE_URL']}?options=-csearch_path%3D{schema}"
    with psycopg.connect(database, autocommit=True) as conn:
        noisy, quiet = new_project(conn, "noisy"), new_project(conn, "quiet")
    bootstrap = env["RA_KAFKA_BOOTSTRAP"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 12, 1)])
    await admin.close()
    for first in range(0, args.backlog, 50_000):  # chunks: memory
        count = min(50_000, args.backlog - first)
        await produce(bootstrap, topic, records(noisy, count, 100_000, 10**9 + first, spread=60))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # The unthrottled flood's rate is known only afterwards: the quiet one is paced
            # by a short solo measurement of the producer instead.
            noisy_rate = args.noisy_rate or await solo_rate(bootstrap, f"{topic}-probe", tmp)
            quiet_rate = noisy_rate / args.ratio
            worker_env = {
                **env,
                "RA_DATABASE_URL": database,
                "RA_EVENTS_TOPIC": topic,
                "RA_CONTROL_TOPIC": f"{topic}-control",
                "RA_WORKER_DEAD_LETTER_TOPIC": f"{topic}-dlq",
                "RA_WORKER_GROUP": group,
                "RA_REDIS_PREFIX": f"{schema}:",
                "RA_WORKER_DATA_DIR": tmp,
            }
            if args.batch_max:
                worker_env["RA_WORKER_BATCH_MAX"] = str(args.batch_max)
            worker = WorkerProcess(worker_env, Path(tmp) / "worker.log", ROOT)
            worker.start()
            try:
                await wait_scrapable(worker.port)
                stop = Path(tmp) / "stop"
                flooding = asyncio.ensure_future(
                    in_child_process(
                        flood_process, bootstrap, topic, noisy, args.noisy_rate, str(stop)
                    )
                )
                async with await psycopg.AsyncConnection.connect(database) as conn:
                    await reached(conn, group, 1)  # the flood is on
                before, load, started = scrape(worker.port), load_average(), time.perf_counter()
                lags = await quiet_ticks(
                    bootstrap, topic, database, quiet, quiet_rate, args.seconds, stop
                )
                noisy_sent = await flooding
                elapsed = time.perf_counter() - started
                after = scrape(worker.port)
                async with await psycopg.AsyncConnection.connect(database) as conn:
                    done = await applied(conn, group)
            finally:
                worker.stop()
    finally:
        with psycopg.connect(env["RA_DATABASE_URL"], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")  # a generated name
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(topic)]
            await admin.delete_topics(mine)
        finally:
            await admin.close()

    quiet_sent = len(lags) * max(1, round(quiet_rate * TICK))
    batches = after["worker_flush_seconds_count"] - before["worker_flush_seconds_count"]
    flush = after["worker_flush_seconds_sum"] - before["worker_flush_seconds_sum"]
    size = after["worker_batch_size_sum"] - before["worker_batch_size_sum"]
    rate = (after["worker_events_applied_total"] - before["worker_events_applied_total"]) / elapsed
    unseen = sum(math.isinf(v) for v in lags)
    left = args.backlog + noisy_sent + quiet_sent - done
    pace = "paced" if args.noisy_rate else "unthrottled"
    print(
        f"noisy: {noisy_sent:,} events in {args.seconds:.0f} s"
        f" ({noisy_sent / args.seconds:,.0f} ev/s, {pace}); quiet: {quiet_sent:,} events"
        f" ({quiet_rate:,.0f} ev/s), ratio {noisy_sent / max(1, quiet_sent):.1f}"
    )
    print(
        "quiet freshness (append acked -> day rollup complete):"
        f" p50 {percentile(lags, 0.5):.2f} s p95 {percentile(lags, 0.95):.2f} s"
        f" max {lags[-1]:.2f} s; {unseen} of {len(lags)} ticks not visible 60 s after the run"
    )
    print(
        f"worker over the run: {batches:.0f} batches, mean {size / max(1, batches):,.0f} records"
        f" and {flush / max(1, batches):.2f} s of sink time each,"
        f" {flush / elapsed:.0%} of the wall time in the sink; applied {rate:,.0f} ev/s"
    )
    print(
        f"backlog when the quiet project's last tick was seen: {left:,}"
        f" records; noisy backlog before the run {args.backlog:,};"
        f" batch max {args.batch_max or 'default (100000)'};"
        f" load average at start: {load} (2 cores, shared)"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
