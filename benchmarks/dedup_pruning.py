"""How fast the retention run prunes the insertId dedup table (decision 0024), beside one
plain ``DELETE`` of the same rows: the ceiling.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.dedup_pruning [--rows 3000000] [--days 30] [--keep-days 8]

It fills ``event_dedup`` (the migration's table and index, in a schema of its own) with
``--rows`` ids last counted over the past ``--days`` days, stored in about the order they
were counted, as the sink inserts them (a minute's jitter: batches of many partitions
interleave), and deletes those older than ``--keep-days`` twice, on
two identical copies one after the other: ``dedup_pruning.prune`` (10,000 rows a transaction,
beside the live sink) and one ``DELETE ... WHERE received_at < ...`` (one transaction, the
sink's old rows locked until it ends). It prints both and the ratio.
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import psycopg

from benchmarks.stack import read_services
from benchmarks.worker_support import load_average
from stream_workers import dedup_pruning

SCHEMA = "bench_dedup_pruning"

_FILL = """
CREATE TABLE event_dedup (
    project_id uuid NOT NULL, insert_id text NOT NULL, received_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, insert_id));
CREATE INDEX ON event_dedup (received_at);
INSERT INTO event_dedup
SELECT ('00000000-0000-0000-0000-' || lpad((n %% 50)::text, 12, '0'))::uuid, md5(n::text),
       now() - %(days)s * interval '1 day' * (1 - n::float8 / %(rows)s)
             + ((n * 7919) %% 60) * interval '1 second'
FROM generate_series(1::bigint, %(rows)s) n;
CREATE TABLE plain_copy (LIKE event_dedup INCLUDING INDEXES);
INSERT INTO plain_copy SELECT * FROM event_dedup;
VACUUM ANALYZE event_dedup;
VACUUM ANALYZE plain_copy
"""


def fill(url: str, rows: int, days: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"SET search_path = {SCHEMA}")
        for statement in _FILL.split(";\n"):
            conn.execute(statement, {"rows": rows, "days": days})


async def pruned(url: str, before: datetime) -> tuple[int, float]:
    options = f"-csearch_path={SCHEMA}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, options=options) as db:
        started = time.perf_counter()
        rows = await dedup_pruning.prune(db, before)
        return rows, time.perf_counter() - started


def deleted(url: str, before: datetime) -> tuple[int, float]:
    with psycopg.connect(url, autocommit=True, options=f"-csearch_path={SCHEMA}") as conn:
        started = time.perf_counter()
        cursor = conn.execute("DELETE FROM plain_copy WHERE received_at < %s", (before,))
        return cursor.rowcount, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep-days", type=int, default=8)
    args = parser.parse_args()
    url = read_services().database_url
    started = time.perf_counter()
    fill(url, args.rows, args.days)
    print(f"{args.rows:,} ids over {args.days} days, twice: {time.perf_counter() - started:.0f} s")
    before = datetime.now(UTC) - timedelta(days=args.keep_days)
    try:
        ours, ours_s = asyncio.run(pruned(url, before))
        plain, plain_s = deleted(url, before)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    for label, rows, seconds in (
        ("pruned, 10,000 a transaction", ours, ours_s),
        ("one DELETE (the ceiling)", plain, plain_s),
    ):
        print(f"{label:<30} {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s")
    print(f"pruned ÷ ceiling: {plain_s / ours_s:.2f}; load average {load_average()}")


if __name__ == "__main__":
    main()
