"""Throughput and memory of one stream worker process, against the real services.

Run from the repository root, with the services of ``scripts/services.sh start`` up::

    python -m benchmarks.stream_workers [--events 200000] [--users 100000]

It creates a fresh PostgreSQL schema (migrated, one "enterprise" project), a fresh
12-partition topic holding ``--events`` generated events across ``--users`` users, then
measures: (1) the bare aiokafka consumer rate reading the whole topic (one process,
no group, values only touched); (2) events/s applied by ONE ``python -m stream_workers
worker`` into every projection (raw, rollups, breakdowns, usage, dedup, offsets), timed
from its first committed batch to the last; the ratio of the two; (3) the worker's RSS
afterwards. Not measured here yet: freshness under a steady 5k ev/s.

Measured on the 2-vCPU development machine (200k events, 100k users): bare consumer
207k ev/s, one worker 1.35k ev/s (ratio 0.007), RSS 150 MB -- far below the 30k ev/s
target; see the README's Stream workers section for where the time goes.
"""

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.events import EventRecord
from migrations.runner import apply_migrations
from tests.fixtures.services import read_env_file
from tests.integration.stream_workers.workers import (
    WorkerProcess,
    applied_offsets,
    produce,
)

ROOT = Path(__file__).resolve().parents[1]


def records(project: str, count: int, users: int) -> list[EventRecord]:
    now = datetime.now(UTC)
    paths = ["/", "/pricing", "/docs", "/blog", "/signup"]
    return [
        EventRecord(
            id=str(uuid.uuid4()),
            project_id=project,
            event=("$pageview", "click", "signup")[n % 3],
            timestamp=now - timedelta(seconds=n % 7200),
            received_at=now,
            distinct_id=f"u{(n * 7919) % users}",
            session_id=f"s{(n * 7919) % users}-{n % 2}",
            properties={"$pathname": paths[n % 5], "$browser": ("Chrome", "Safari")[n % 2]},
            insert_id=f"i{n}" if n % 4 == 0 else None,
        )
        for n in range(count)
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


async def reached(database: str, group: str, count: int) -> int:
    """Poll the stored offsets until ``count`` records are applied; return the total."""
    for _ in range(10**7):
        done = applied_offsets(database, group)
        if done >= count:
            return done
        await asyncio.sleep(0.05)
    raise TimeoutError


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    env = read_env_file(ROOT / ".local" / "services.env")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    topic, group = f"bench-{schema}", f"bench-{schema}"
    apply_migrations(env["RA_DATABASE_URL"], schema=schema)
    database = f"{env['RA_DATABASE_URL']}?options=-csearch_path%3D{schema}"
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO projects (slug, name, plan, monthly_event_limit)"
            " VALUES ('bench', 'Bench', 'enterprise', 100000000) RETURNING id::text"
        ).fetchone()
    assert row is not None
    bootstrap = env["RA_KAFKA_BOOTSTRAP"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 12, 1)])
    await admin.close()
    await produce(bootstrap, topic, records(row[0], args.events, args.users))

    bare = await bare_consumer_rate(bootstrap, topic, args.events)
    with tempfile.TemporaryDirectory() as tmp:
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
        worker = WorkerProcess(worker_env, Path(tmp) / "worker.log", ROOT)
        worker.start()
        try:
            await reached(database, group, 1)
            started, first = time.perf_counter(), applied_offsets(database, group)
            done = await reached(database, group, args.events)
            applied = (done - first) / (time.perf_counter() - started)
            assert worker.process is not None
            rss = rss_mb(worker.process.pid)
        finally:
            worker.stop()
    print(f"events: {args.events} across {args.users} users, 12 partitions, one project")
    print(f"bare aiokafka consumer: {bare:,.0f} ev/s")
    print(f"one worker, all projections: {applied:,.0f} ev/s")
    print(f"ratio worker/bare: {applied / bare:.3f}")
    print(f"worker RSS after the load: {rss:.0f} MB")
    with psycopg.connect(env["RA_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")  # generated name


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
