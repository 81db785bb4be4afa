"""Pruning ``event_dedup``: the insertIds no record still to come can be a repeat of.

A repeat of an insertId is dropped only within ``DEDUP_WINDOW`` (7 days, by receivedAt) of
its last counted sighting (``stream_workers.decisions.select_new``); later, it is counted
again. So a row last counted at ``L`` decides nothing for a record received at ``R >= L +
DEDUP_WINDOW``: without the row that record is counted just the same, and the row is
written again. The rows below ``horizon - DEDUP_WINDOW`` can go, where the horizon is the
earliest receivedAt a record not yet applied can carry, less ``MARGIN``:

- a partition the sink has applied up to its log end holds only records still to be sent,
  received from now on;
- a partition with records still to apply holds them from about the receivedAt of the last
  one it applied (the gateways' clocks and delivery times put them out of order by far
  less than ``MARGIN``);
- a partition whose stored offsets Kafka contradicts (held: docs/faults.md; or a stored
  offset past the log end, which the workers' topic check has not flagged yet), or with
  records and nothing applied yet, gives no bound, and nothing is pruned that run.

Every lane's partitions count (the overflow lane may lag by days). The sink's claim of a
batch's insertIds locks the rows it finds (``stream_workers.store.claim_dedup``), so a prune
never removes a row between the claim and the decisions that read it. Decision 0024.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from psycopg import AsyncConnection

from common.lag import StoredPartition, log_ends, read_stored
from stream_workers.decisions import DEDUP_WINDOW

# Clock skew between gateways plus a request's time to delivery, with room to spare: a
# record can arrive at most this much before one its partition already applied.
MARGIN = timedelta(hours=1)
CHUNK = 10_000  # rows per DELETE: short transactions beside the sink's


@dataclass(frozen=True, slots=True)
class PartitionState:
    """A lane partition as Kafka and the sink's stored offsets show it."""

    topic: str
    partition: int
    log_end: int
    stored: StoredPartition | None  # None: nothing stored for it yet


def horizon(partitions: Iterable[PartitionState], now: datetime) -> datetime | None:
    """The earliest receivedAt a record not yet applied can carry, less ``MARGIN``; None
    when some partition gives no bound (prune nothing)."""
    earliest = now
    for state in partitions:
        stored = state.stored
        if stored is None:
            if state.log_end > 0:
                return None  # records, and nothing applied: where they start is unknown
            continue
        if stored.inconsistency is not None:
            return None  # held: what is applied there next is for the operator to say
        if stored.next_offset > state.log_end:
            return None  # past the log end: a topic made again, not yet seen as held
        if stored.next_offset == state.log_end:
            continue  # caught up: only records still to be sent, received from now on
        if stored.last_received_at is None:
            return None
        earliest = min(earliest, stored.last_received_at)
    return earliest - MARGIN


def cutoff(partitions: Iterable[PartitionState], now: datetime) -> datetime | None:
    """Rows of ``event_dedup`` last counted before this decide nothing any more."""
    bound = horizon(partitions, now)
    return None if bound is None else bound - DEDUP_WINDOW


async def lane_partitions(
    bootstrap: str, db: AsyncConnection[Any], lanes: Sequence[tuple[str, str]]
) -> list[PartitionState]:
    """Every partition of the lanes' topics ((consumer group, topic) pairs): its log end,
    read before the stored offsets (so a record appended since is one still to be sent)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = {topic: await log_ends(consumer, topic) for _, topic in lanes}
    finally:
        await consumer.stop()
    states = []
    for group, topic in lanes:
        stored = await read_stored(db, group, topic)
        states += [
            PartitionState(topic, partition, end, stored.get(partition))
            for partition, end in sorted(ends[topic].items())
        ]
    return states


_PRUNE = """
DELETE FROM event_dedup WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM event_dedup WHERE received_at < %(before)s LIMIT %(chunk)s
)) AND received_at < %(before)s
"""


async def prune(db: AsyncConnection[Any], before: datetime, chunk: int = CHUNK) -> int:
    """Delete the rows last counted before ``before``, ``chunk`` at a time (``db`` in
    autocommit: each chunk its own short transaction); the number deleted."""
    pruned = 0
    while True:
        cursor = await db.execute(_PRUNE, {"before": before, "chunk": chunk})
        pruned += max(cursor.rowcount, 0)
        if cursor.rowcount < chunk:
            return pruned
