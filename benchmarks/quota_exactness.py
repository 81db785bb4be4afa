"""The 200 promise at the monthly limit: events answered 200 against events materialized,
with concurrent senders on several gateway processes and a worker counting meanwhile.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.quota_exactness [--limit 10000] [--gateways 2] [--senders 16]
        [--max-batch 100]

A fresh schema, topic and Redis prefix; one project whose monthly limit is ``--limit``;
``--gateways`` real gateway processes and one worker. Senders post batches of 1 to
``--max-batch`` events until the limit refuses each of them three times in a row. Printed:
the events answered 200, those materialized (raw rows) and counted (``usage_months``),
and their ratio (must be 1.000), and the fill — answered over the limit, whose ceiling is
1.000 (a batch that would cross the limit is refused whole, so the fill ends within one
batch of it). What the reservation costs in throughput is ``benchmarks.ingest_gateway``'s
figure (its gateway reserves on every request, against the bare producer).
"""

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid

import psycopg

from benchmarks.stack import (
    REPO_ROOT,
    free_port,
    fresh_redis_prefix,
    fresh_schema,
    gateway_env,
    new_public_key,
    read_services,
    running_gateway,
)
from benchmarks.tenant_fairness import fresh_topics, wait_answering
from tests.integration.stream_workers.workers import WorkerProcess, applied_offsets
from tests.support.quota_load import Load, unreserved


async def counted(database: str, project_id: str) -> tuple[int, int]:
    async with await psycopg.AsyncConnection.connect(database) as conn:
        rows = await (
            await conn.execute("SELECT count(*) FROM events WHERE project_id = %s", (project_id,))
        ).fetchone()
        used = await (
            await conn.execute(
                "SELECT coalesce(sum(used), 0) FROM usage_months WHERE project_id = %s",
                (project_id,),
            )
        ).fetchone()
    assert rows is not None and used is not None
    return int(rows[0]), int(used[0])


async def run(limit: int, gateways: int, senders: int, max_batch: int) -> None:
    services = read_services()
    suffix = uuid.uuid4().hex[:8]
    topic = f"bench-quota-{suffix}"
    logs = REPO_ROOT / ".local"
    async with (
        fresh_schema(services.database_url, f"bench_quota_{suffix}") as database,
        fresh_topics(services.kafka_bootstrap, [topic]),
        fresh_redis_prefix(services.redis_url, f"bench:quota:{suffix}:") as prefix,
    ):
        project_id, key = await new_public_key(database, f"quota-{suffix}")
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            await conn.execute(
                "UPDATE projects SET monthly_event_limit = %s WHERE id = %s", (limit, project_id)
            )
        base = {
            **gateway_env(services, database, topic, prefix, 0),
            "RA_INGEST_OVERFLOW_EVENTS_PER_SECOND": "0",
        }
        with tempfile.TemporaryDirectory() as tmp:
            worker = WorkerProcess(
                {
                    **base,
                    "RA_WORKER_GROUP": topic,
                    "RA_WORKER_DEAD_LETTER_TOPIC": f"{topic}-dlq",
                    "RA_WORKER_DATA_DIR": f"{tmp}/worker",
                },
                logs / f"bench-quota-{suffix}-worker.log",
                REPO_ROOT,
            )
            worker.start()
            try:
                await wait_answering(f"http://127.0.0.1:{worker.port}")
                async with contextlib.AsyncExitStack() as stack:
                    urls = [
                        (
                            await stack.enter_async_context(
                                running_gateway(
                                    {**base, "RA_INGEST_PORT": str(free_port())},
                                    logs / f"bench-quota-{suffix}-gateway-{n}.log",
                                )
                            )
                        ).url
                        for n in range(gateways)
                    ]
                    load = Load(urls, key, limit, max_batch)
                    started = time.perf_counter()
                    await load.run(senders)
                    seconds = time.perf_counter() - started
                    fail_open = await unreserved(urls)
                deadline = time.monotonic() + 120
                while applied_offsets(database, topic) < load.answered:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the worker did not apply every answered event")
                    await asyncio.sleep(0.2)
                rows, used = await counted(database, project_id)
            finally:
                worker.stop()
    print(
        f"limit {limit:,}; {gateways} gateway processes, {senders} senders,"
        f" batches of 1-{max_batch}"
    )
    print(
        f"requests {load.requests:,} in {seconds:.1f} s: answered 200 {load.answered:,} events,"
        f" refused 429 {load.refused:,} requests, other {len(load.other)}, unreserved {fail_open}"
    )
    print(f"materialized {rows:,} raw events, counted {used:,} (usage_months)")
    print(
        f"exactness (materialized / answered 200): {rows / max(load.answered, 1):.3f}"
        " (must be 1.000)"
    )
    print(f"fill (answered / limit): {load.answered / limit:.3f} (ceiling 1.000)")
    if rows != load.answered or used != load.answered or load.answered > limit or load.other:
        raise SystemExit("NOT EXACT")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quota_exactness")
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.limit, args.gateways, args.senders, args.max_batch))


if __name__ == "__main__":
    main()
