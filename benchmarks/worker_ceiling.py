"""One stream worker beside its two ceilings, in one run: the database's (the raw store's
COPY and the rollup upserts alone, on the same PostgreSQL) and the bare Kafka consumer's;
then its RSS over a soak.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.worker_ceiling [--events 1000000] [--users 100000] [--spread 60]
        [--late-every 20] [--batch 20000] [--ceiling-events 300000] [--soak-seconds 60]
        [--soak-rate 5000]

It fills a fresh 12-partition topic as ``benchmarks.stream_workers`` does (the same
generator and defaults), then measures, printing the load average beside each figure:

1. the bare aiokafka consumer reading the topic (``stream_workers.bare_consumer_rate``);
2. the database ceiling (``benchmarks.database_ceiling``) on ``--ceiling-events`` records
   of the same shape, in batches of ``--batch``, into a schema of its own;
3. one ``python -m stream_workers worker`` applying the topic into every projection (from
   its first committed batch to the last), its CPU per event, its RSS sampled each second;
4. a soak: ``--soak-rate`` ev/s produced for ``--soak-seconds`` into the running worker,
   its RSS sampled every 5 s; flat when the last third's mean is within 5 % of the first
   third's, else it grows or falls (target: flat or falling, under 400 MB throughout);
5. the database ceiling again, in the worker's own mean batch (its ``worker_batch_size``
   histogram): a batch's rollup rows are upserted once whatever its events, so the
   ceiling per event depends on the batch; the worker is printed as a ratio of each.

Ratios: worker ÷ database ceiling (target ≥ 0.6) and worker ÷ bare consumer.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks import database_ceiling
from benchmarks.stream_workers import bare_consumer_rate, records, rss_mb
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
from contracts.events import encode_record, record_key
from tests.fixtures.services import read_env_file
from tests.integration.stream_workers.workers import WorkerProcess, produce


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--spread", type=int, default=60)
    parser.add_argument("--late-every", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20000, help="first ceiling's batch")
    parser.add_argument("--ceiling-events", type=int, default=300_000)
    parser.add_argument("--soak-seconds", type=float, default=60)
    parser.add_argument("--soak-rate", type=int, default=5000)
    return parser.parse_args()


async def ceiling(
    env: dict[str, str], project: str, args: argparse.Namespace, size: int, first: int
) -> database_ceiling.Ceiling:
    schema, database, _ = await new_schema(env, project)
    try:
        batch = records(
            project, args.ceiling_events, args.users, first, None, args.spread, args.late_every
        )
        found = await database_ceiling.measure(database, batch, size)
    finally:
        drop_schemas(env, [schema])
    print(
        f"database ceiling, {found.events:,} events in batches of {size:,}: COPY into"
        f" events alone {found.copy_rate:,.0f} rows/s, rollup upserts alone"
        f" {found.upsert_rate:,.0f} ev/s, both one after the other {found.both_rate:,.0f}"
        f" ev/s; load average {load_average()}",
        flush=True,
    )
    return found


async def sample_rss(pid: int, every: float, into: list[tuple[float, float]]) -> None:
    started = time.perf_counter()
    while True:
        into.append((time.perf_counter() - started, rss_mb(pid)))
        await asyncio.sleep(every)


async def soak(bootstrap: str, topic: str, project: str, args: argparse.Namespace) -> None:
    """``--soak-rate`` ev/s in 100 ms ticks for ``--soak-seconds``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        per_tick, first = max(1, args.soak_rate // 10), args.events + 10_000_000
        start = time.perf_counter()
        for tick in range(int(args.soak_seconds * 10)):
            await asyncio.sleep(max(0.0, start + tick / 10 - time.perf_counter()))
            batch = records(project, per_tick, args.users, first + tick * per_tick, None, 1)
            sent = [
                await producer.send(topic, encode_record(r), key=record_key(project, r.distinct_id))
                for r in batch
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def mean_batch(port: int) -> float:
    """Records per batch over the worker's life, from its ``worker_batch_size`` histogram."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as answer,
    ):
        text = await answer.text()
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("worker_batch_size_sum", "worker_batch_size_count"):
            found[name] = float(value)
    return found.get("worker_batch_size_sum", 0.0) / max(
        1.0, found.get("worker_batch_size_count", 0)
    )


def flatness(samples: list[tuple[float, float]]) -> str:
    values = [mb for _, mb in samples]
    third = max(1, len(values) // 3)
    head, tail = statistics.mean(values[:third]), statistics.mean(values[-third:])
    # Growth is what a leak shows; falling back from the load's peak is not one.
    verdict = "grows" if tail > 1.05 * head else "falls" if tail < 0.95 * head else "flat"
    return (
        f"{verdict} (first third mean {head:.0f} MB, last third {tail:.0f} MB, max"
        f" {max(values):.0f} MB; target < 400 MB)"
    )


async def run_worker(
    env: dict[str, str], topic: str, project: str, args: argparse.Namespace
) -> tuple[float, float]:
    """The worker's applied ev/s and mean batch size; prints its CPU, RSS and the soak."""
    schema, database, _ = await new_schema(env, project)
    group = f"bench-{schema}"
    rss: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            environment = worker_environment(env, database, topic, group, schema)
            worker = WorkerProcess(
                {**environment, "RA_WORKER_DATA_DIR": tmp}, Path(tmp) / "worker.log", ROOT
            )
            worker.start()
            assert worker.process is not None
            pid = worker.process.pid
            sampler = asyncio.create_task(sample_rss(pid, 1.0, rss))
            try:
                async with await psycopg.AsyncConnection.connect(database, autocommit=True) as c:
                    await reached(c, group, 1)
                    started, first = time.perf_counter(), await applied(c, group)
                    cpu, load = cpu_seconds(pid), load_average()
                    done = await reached(c, group, args.events)
                    rate = (done - first) / (time.perf_counter() - started)
                    per_event = (cpu_seconds(pid) - cpu) / max(1, done - first) * 1e6
                    batch = await mean_batch(worker.port)
                    print(
                        f"one worker, all projections: {rate:,.0f} ev/s, CPU {per_event:.0f}"
                        f" us/event, {batch:,.0f} records a batch (mean), RSS max"
                        f" {max(mb for _, mb in rss):.0f} MB during the load;"
                        f" load average at start {load}, at end {load_average()}",
                        flush=True,
                    )
                    sampler.cancel()
                    soaked: list[tuple[float, float]] = []
                    sampler = asyncio.create_task(sample_rss(pid, 5.0, soaked))
                    await soak(env["RA_KAFKA_BOOTSTRAP"], topic, project, args)
                    total = args.events + int(args.soak_seconds * 10) * max(1, args.soak_rate // 10)
                    await reached(c, group, total)
                    sampler.cancel()
                line = ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in soaked)
                print(f"soak {args.soak_seconds:.0f} s at {args.soak_rate:,} ev/s, RSS MB: {line}")
                print(f"soak RSS: {flatness(soaked)}; load average {load_average()}", flush=True)
            finally:
                sampler.cancel()
                worker.stop()
    finally:
        drop_schemas(env, [schema])
    return rate, batch


async def main() -> None:
    args = parse_args()
    env = read_env_file(ROOT / ".local" / "services.env")
    print(f"load average before the load: {load_average()} (2 cores)", flush=True)
    schema, _, project = await new_schema(env)
    topic = f"bench-{schema}"
    bootstrap = env["RA_KAFKA_BOOTSTRAP"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 12, 1)])
    await admin.close()
    try:
        for first in range(0, args.events, 50_000):
            count = min(50_000, args.events - first)
            chunk = records(project, count, args.users, first, None, args.spread, args.late_every)
            await produce(bootstrap, topic, chunk)
        bare = await bare_consumer_rate(bootstrap, topic, args.events)
        print(f"bare aiokafka consumer: {bare:,.0f} ev/s; load average {load_average()}")
        before = await ceiling(env, project, args, args.batch, 20_000_000)
        rate, batch = await run_worker(env, topic, project, args)
        # Again, in the worker's own batches: the upserts' cost per event falls as a batch
        # grows (a batch's rows are upserted once, whatever its events).
        after = await ceiling(env, project, args, max(1, round(batch)), 30_000_000)
        for label, found in (("before, in batches of --batch", before), ("after", after)):
            print(
                f"worker {rate:,.0f} ev/s ÷ database ceiling {label} {found.both_rate:,.0f}"
                f" ev/s = {rate / found.both_rate:.2f} (target >= 0.6)",
                flush=True,
            )
        print(f"worker ÷ bare consumer {bare:,.0f} = {rate / bare:.3f}; {load_average()}")
    finally:
        drop_schemas(env, [schema])
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(topic)]
            await admin.delete_topics(mine)
        finally:
            await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
