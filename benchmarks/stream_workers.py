"""Throughput, freshness and memory of the stream worker processes, against the real services.

Run from the repository root, with the services of ``scripts/services.sh start`` up::

    python -m benchmarks.stream_workers [--events 1000000] [--users 100000] [--spread 60]
        [--late-every 20] [--rate 5000] [--seconds 20] [--processes 1,2,3]

It creates a fresh PostgreSQL schema (migrated, one "enterprise" project), a fresh
12-partition topic holding ``--events`` generated events across ``--users`` users, then
measures: (1) the bare aiokafka consumer rate
reading the whole topic (one process, no group, values only touched); (2) events/s applied
by ONE ``python -m stream_workers worker`` into every projection (raw, rollups,
breakdowns, usage, dedup, offsets), timed from its first committed batch to the last, the
ratio of the two, and the worker's CPU per event (utime + stime; the machine is shared, so
the load average is printed too); (3) the worker's RSS after the load (by default the
issue's 1M events across 100k users; a million also makes it the steady rate: the first
batch, timed from, and the last, applied with nothing left to read beside it, weigh
more in a shorter run); (4) freshness: ``--rate`` ev/s for ``--seconds`` in
100 ms ticks, p50/p95 from each tick's acknowledged append (what the gateway's 200 waits
for) to its day rollup counting all of it; (5) the same sink fed by ``python -m
stream_workers replay`` (aiokafka ``getmany``, no Faust) on the same topic.

Scale-out (``--processes 1,2,3``): after (1), for each count, that many worker processes
started at once in one consumer group of their own on the same topic, into a fresh schema;
per-worker and total ev/s from the moment every worker has applied a batch (the group has
settled) until the whole topic is applied, beside the bare consumer as ratios, and each
count against one process. Freshness, RSS and the replay are one process's figures: not
measured in this mode.

Event times: the log holds records in arrival order, so a live log's records carry times
within seconds of each other; by default they are within ``--spread`` 60 s of arrival,
and 1 in ``--late-every`` 20 is up to two days late (offline devices). ``--spread 7200
--late-every 0`` gives every batch two hours of buckets to update, as an import of old
events would: the harsher shape, measured until this session for the headline figure.

Current figures: docs/benchmarks.md, Stream workers; history: benchmarks/results/.
"""

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.worker_group import print_group_runs, worker_group
from benchmarks.worker_support import (
    ROOT,
    applied,
    cpu_seconds,
    drop_schemas,
    load_average,
    new_schema,
    reached,
    worker_environment,
)
from contracts.events import EventRecord, encode_record, record_key
from stream_workers.replay import replay
from stream_workers.settings import Settings
from tests.fixtures.services import read_env_file
from tests.integration.stream_workers.workers import (
    WorkerProcess,
    produce,
)

LATE_WINDOW = 2 * 86400  # seconds: how late the late events are, at most


def records(
    project: str,
    count: int,
    users: int,
    first: int = 0,
    event: str | None = None,
    spread: int = 7200,
    late_every: int = 0,
) -> list[EventRecord]:
    """Generated events; timestamps spread over the last ``spread`` seconds, except every
    ``late_every``-th event (0: none), which is up to two days late (an offline device)."""
    now = datetime.now(UTC)
    paths = ["/", "/pricing", "/docs", "/blog", "/signup"]

    def age(n: int) -> int:
        if late_every and n % late_every == late_every - 1:
            return (n * 7919) % LATE_WINDOW
        return n % spread

    return [
        EventRecord(
            id=str(uuid.uuid4()),
            project_id=project,
            event=event or ("$pageview", "click", "signup")[n % 3],
            timestamp=now - timedelta(seconds=age(n)),
            received_at=now,
            distinct_id=f"u{(n * 7919) % users}",
            session_id=f"s{(n * 7919) % users}-{n % 2}",
            properties={"$pathname": paths[n % 5], "$browser": ("Chrome", "Safari")[n % 2]},
            insert_id=f"i{n}" if n % 4 == 0 else None,
        )
        for n in range(first, first + count)
    ]


async def bare_consumer_rate(bootstrap: str, topic: str, total: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(12)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, started = 0, time.perf_counter()
        while seen < total:
            for messages in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                seen += sum(len(m.value) > 0 for m in messages)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def freshness(
    bootstrap: str,
    topic: str,
    database: str,
    project: str,
    rate: int,
    seconds: float,
    first: int,
) -> list[float]:
    """Produce ``rate`` ev/s in 100 ms ticks, each tick under an event name of its own; a
    tick is fresh when its day rollup counts all its events. Seconds from each tick's
    acknowledged append (what the gateway's 200 waits for) to then. Live traffic is
    stamped about now (SDKs send as they track), so these ticks are too."""
    per_tick, ticks = max(1, rate // 10), int(seconds * 10)
    acked: dict[str, float] = {}
    visible: dict[str, float] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
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
            await asyncio.sleep(max(0.0, start + tick / 10 - time.perf_counter()))
            name = f"fresh-{tick}"
            # Numbered after the main load: their insertIds must not repeat its ones.
            batch = records(project, per_tick, 100_000, first + tick * per_tick, name, spread=1)
            sent = [
                await producer.send(topic, encode_record(r), key=record_key(project, r.distinct_id))
                for r in batch
            ]
            await asyncio.gather(*sent)
            acked[name] = time.perf_counter()
        with contextlib.suppress(TimeoutError):  # a tick never seen counts as infinite
            await asyncio.wait_for(watcher, 60)
    finally:
        watcher.cancel()
        await producer.stop()
    return sorted(visible.get(name, math.inf) - acked[name] for name in acked)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=5000, help="steady ev/s for freshness")
    parser.add_argument("--seconds", type=float, default=20, help="length of the steady load")
    parser.add_argument(
        "--spread",
        type=int,
        default=60,
        help="event timestamps within SPREAD seconds of arrival, as a live log has them"
        " (7200: every batch spans two hours of buckets, as an import of old events does)",
    )
    parser.add_argument(
        "--late-every",
        type=int,
        default=20,
        help="every LATE_EVERY-th event is up to two days late (0: none)",
    )
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=None,
        help="comma-separated worker counts (e.g. 1,2,3): the scale-out run — each count"
        " in one consumer group on the same topic, into a fresh schema (no freshness or"
        " replay)",
    )
    return parser.parse_args()


async def one_worker(
    args: argparse.Namespace, env: dict[str, str], topic: str, bare: float, schema: str
) -> None:
    """The classic run: one worker's rate, CPU and RSS, its freshness, then the replay."""
    database = f"{env['RA_DATABASE_URL']}?options=-csearch_path%3D{schema}"
    group = f"bench-{schema}"
    bootstrap = env["RA_KAFKA_BOOTSTRAP"]
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT id::text FROM projects").fetchone()
    assert row is not None
    with tempfile.TemporaryDirectory() as tmp:
        environment = worker_environment(env, database, topic, group, schema)
        worker = WorkerProcess(
            {**environment, "RA_WORKER_DATA_DIR": tmp}, Path(tmp) / "worker.log", ROOT
        )
        worker.start()
        try:
            async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
                await reached(conn, group, 1)
                assert worker.process is not None
                pid = worker.process.pid
                started, first = time.perf_counter(), await applied(conn, group)
                cpu, load = cpu_seconds(pid), load_average()
                done = await reached(conn, group, args.events)
            rate = (done - first) / (time.perf_counter() - started)
            cpu_per_event = (cpu_seconds(pid) - cpu) / max(1, done - first) * 1e6
            rss = rss_mb(pid)
            lags = await freshness(
                bootstrap, topic, database, row[0], args.rate, args.seconds, args.events
            )
        finally:
            worker.stop()
    # The same sink fed by a plain aiokafka loop (no Faust stream), 20k-record batches.
    rebuilt = await replay(
        Settings(
            database_url=database,
            redis_url=env["RA_REDIS_URL"],
            kafka_bootstrap=bootstrap,
            events_topic=topic,
            control_topic=f"{topic}-control",
            group_id=group,
        ),
        f"{schema}_replay",
    )
    print(f"one worker, all projections: {rate:,.0f} ev/s")
    print(f"ratio worker/bare: {rate / bare:.3f}")
    print(
        "replay (same sink, aiokafka getmany, 20k batches):"
        f" {rebuilt.records / rebuilt.seconds:,.0f} ev/s including schema set-up"
    )
    print(f"worker CPU: {cpu_per_event:.0f} us/event; load average at start: {load} (2 cores)")
    print(f"worker RSS after {args.events:,} events across {args.users:,} users: {rss:.0f} MB")
    print(
        f"freshness at {args.rate:,} ev/s for {args.seconds:.0f}s (append acked -> day rollup"
        f" complete): p50 {percentile(lags, 0.5):.2f}s p95 {percentile(lags, 0.95):.2f}s"
        f" max {lags[-1]:.2f}s over {len(lags)} ticks of 100 ms"
    )
    drop_schemas(env, [f"{schema}_replay"])


async def main() -> None:
    args = parse_args()
    env = read_env_file(ROOT / ".local" / "services.env")
    print(f"load average before the load: {load_average()} (2 cores)")
    schema, _, project = await new_schema(env)
    topic = f"bench-{schema}"
    bootstrap = env["RA_KAFKA_BOOTSTRAP"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 12, 1)])
    await admin.close()
    for first in range(0, args.events, 50_000):  # chunks: 1M records at once need GBs
        chunk = records(
            project,
            min(50_000, args.events - first),
            args.users,
            first,
            spread=args.spread,
            late_every=args.late_every,
        )
        await produce(bootstrap, topic, chunk)

    bare = await bare_consumer_rate(bootstrap, topic, args.events)
    print(
        f"events: {args.events} across {args.users} users, 12 partitions, one project,"
        f" timestamps within {args.spread} s of arrival"
        + (f", 1 in {args.late_every} up to two days late" if args.late_every else "")
    )
    print(f"bare aiokafka consumer: {bare:,.0f} ev/s")
    schemas = [schema]
    try:
        if args.processes is None:
            await one_worker(args, env, topic, bare, schema)
        else:
            runs = []
            for count in args.processes:
                run, used = await worker_group(count, env, topic, args.events, project)
                schemas.append(used)
                runs.append(run)
                print(f"{count} workers: {run.total:,.0f} ev/s", flush=True)
            print_group_runs(runs, bare)
    finally:
        drop_schemas(env, schemas)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:  # a 1M-record topic holds ~0.5 GB: do not leave it behind
            mine = [t for t in await admin.list_topics() if t.startswith(topic)]
            await admin.delete_topics(mine)
        finally:
            await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
