"""The stream worker's database ceiling: what PostgreSQL itself takes of the worker's two
big writes, each alone, on the worker's own records and batches.

Used by ``benchmarks.worker_ceiling``. Each batch of records is decoded and formatted as
the sink does (``decode_for_sink``, ``projections.staged_row``), then:

- raw store: the batch's rows by one text ``COPY`` into ``events`` (the month's tables made
  first, by the sink's ``Partitioner``), committed;
- rollups: the batch staged into ``batch_events`` (``projections.stage``, not timed) and
  ``projections.aggregate`` — the sink's rollup and breakdown upserts, the statement it
  runs — timed alone, committed, so later batches update the rows earlier ones made, as
  the worker's do.

The ceiling for the worker is the rate at which both are done one after the other:
``events ÷ (COPY seconds + upsert seconds)``. It leaves out what the worker does beyond
(staging, dedup, usage, offsets, the Kafka side), so a worker at 1.0 of it would be doing
nothing else.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from contracts.events import EventRecord, encode_record
from stream_workers import projections
from stream_workers.configs import merge_keys
from stream_workers.decoding import decode_for_sink
from stream_workers.raw_tables import Partitioner, partition_month

_COPY_RAW = f"COPY events ({projections.COLUMNS}) FROM STDIN"


@dataclass(frozen=True)
class Ceiling:
    events: int
    copy_seconds: float
    upsert_seconds: float

    @property
    def copy_rate(self) -> float:
        return self.events / self.copy_seconds

    @property
    def upsert_rate(self) -> float:
        return self.events / self.upsert_seconds

    @property
    def both_rate(self) -> float:
        return self.events / (self.copy_seconds + self.upsert_seconds)


def staged_lines(records: Sequence[EventRecord]) -> list[bytes]:
    """The staging COPY's lines, as the sink makes them from the topic's bytes."""
    return [
        projections.staged_row(n % 12, n, decode_for_sink(encode_record(r)))
        for n, r in enumerate(records)
    ]


def raw_line(staged: bytes) -> bytes:
    """A staging line without its (part, pos): a line of ``COPY events``."""
    return staged.split(b"\t", 2)[2]


async def measure(database: str, records: Sequence[EventRecord], batch: int) -> Ceiling:
    """COPY and upsert seconds over ``records`` in batches of ``batch``."""
    lines = staged_lines(records)
    received = datetime.now(UTC)
    slots = {
        (partition_month(r.timestamp, received), r.project_id)
        for r in records
        if partition_month(r.timestamp, received) is not None
    }
    keys = {p: merge_keys(()) for p in {r.project_id for r in records}}
    copy_seconds = upsert_seconds = 0.0
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await Partitioner().ensure(conn, slots)
        await conn.execute(projections.CREATE_STAGING)
        for first in range(0, len(lines), batch):
            chunk = lines[first : first + batch]
            raw = b"".join(raw_line(line) for line in chunk)
            started = time.perf_counter()
            async with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY_RAW) as copy:
                await copy.write(raw)
            copy_seconds += time.perf_counter() - started
            async with conn.transaction():
                await projections.stage(conn, chunk)
                started = time.perf_counter()
                await projections.aggregate(conn, keys)
                upsert_seconds += time.perf_counter() - started
    return Ceiling(len(lines), copy_seconds, upsert_seconds)
