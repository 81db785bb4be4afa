"""Consumer lag per partition: log-end offset, the group's committed offset, lag and freshness.

Shared by the stream workers (their ``lag`` command and gauges) and the dashboard's ops
view, so both show the same figures. The numbers come from where Kafka's own
``kafka-consumer-groups --describe`` takes them (the group coordinator's committed offsets
and each partition's log-end offset), so the two agree; freshness is now minus the
receivedAt of the last record the sink applied in that partition (from
``consumer_offsets`` in PostgreSQL).

Beside them, what PostgreSQL stores: the sink's next offset and, when the partition's
stored offsets contradict Kafka (the topic was recreated, Kafka's data wiped), why: such a
partition is held by the workers until an operator recovers it, and every view says so.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common.kafka import topic_partitions

_APPLIED_SQL = (
    "SELECT partition, last_received_at FROM consumer_offsets"
    " WHERE consumer = %s AND topic = %s AND last_received_at IS NOT NULL"
)

_STORED_SQL = (
    "SELECT partition, next_offset, last_received_at, inconsistent, kafka_offset"
    " FROM consumer_offsets WHERE consumer = %s AND topic = %s"
)


class Inconsistency(StrEnum):
    """Why a partition's stored offsets contradict Kafka (``consumer_offsets.inconsistent``)."""

    TOPIC_RECREATED = "topic_recreated"  # Kafka's topic id is not the one stored
    BEYOND_LOG_END = "beyond_log_end"  # the stored next offset lies past the log end
    RECORDS_MISSING = "records_missing"  # deleted below the log start before being applied
    OFFSET_GAP = "offset_gap"  # records delivered past the stored offset, not those before


def describe_inconsistency(code: str, stored: int, kafka_offset: int | None) -> str:
    """One line for an operator: what is wrong, with the two offsets."""
    at = "?" if kafka_offset is None else str(kafka_offset)
    match code:
        case Inconsistency.TOPIC_RECREATED:
            return (
                f"topic recreated (Kafka's topic id changed): stored next offset {stored},"
                f" log end now {at}"
            )
        case Inconsistency.BEYOND_LOG_END:
            return f"stored next offset {stored} is past Kafka's log end {at}: Kafka was reset"
        case Inconsistency.RECORDS_MISSING:
            return (
                f"records from {stored} to below {at} were deleted from Kafka before they were"
                f" applied: stored next offset {stored}, log start {at}"
            )
        case Inconsistency.OFFSET_GAP:
            return (
                f"records from {stored} to below {at} were never delivered: stored next offset"
                f" {stored}, first delivered {at}"
            )
    return f"{code}: stored next offset {stored}, Kafka offset {at}"


@dataclass(frozen=True, slots=True)
class StoredPartition:
    """What the sink stored for a partition in ``consumer_offsets``."""

    next_offset: int
    last_received_at: datetime | None
    inconsistency: str | None  # ``describe_inconsistency``'s line; None: consistent


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    log_end: int
    committed: int | None  # None: the group has committed nothing there yet
    lag: int | None
    freshness_seconds: float | None
    stored: int | None = None  # PostgreSQL's next offset (None: nothing stored)
    inconsistency: str | None = None  # why the workers hold this partition, if they do


def compute_lag(
    topic: str,
    ends: Mapping[int, int],
    committed: Mapping[int, int],
    last_received: Mapping[int, datetime | None],
    now: datetime,
    stored: Mapping[int, StoredPartition] | None = None,
) -> list[PartitionLag]:
    """One row per partition; lag as Kafka's tool computes it (log end - committed)."""
    rows = []
    for partition in sorted(ends):
        done = committed.get(partition)
        received = last_received.get(partition)
        kept = (stored or {}).get(partition)
        rows.append(
            PartitionLag(
                topic=topic,
                partition=partition,
                log_end=ends[partition],
                committed=done,
                lag=None if done is None else ends[partition] - done,
                freshness_seconds=None if received is None else (now - received).total_seconds(),
                stored=None if kept is None else kept.next_offset,
                inconsistency=None if kept is None else kept.inconsistency,
            )
        )
    return rows


async def log_ends(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    """Log-end offset per partition of ``topic`` ({} when it does not exist), on a started
    consumer."""
    tps = await topic_partitions(consumer, topic)
    ends = await consumer.end_offsets(tps) if tps else {}
    return {tp.partition: int(end) for tp, end in ends.items()}


async def committed_offsets(
    admin: AIOKafkaAdminClient, group: str, topic: str, partitions: list[int]
) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (absent: none committed)."""
    tps = [TopicPartition(topic, p) for p in partitions]
    offsets = await admin.list_consumer_group_offsets(group, partitions=tps or None)
    return {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if tp.topic == topic and meta.offset >= 0
    }


async def kafka_positions(
    bootstrap: str, group: str, topic: str
) -> tuple[dict[int, int], dict[int, int]]:
    """(log-end offsets, committed offsets of ``group``) per partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        ends = await log_ends(consumer, topic)
        committed = await committed_offsets(admin, group, topic, sorted(ends))
    finally:
        await admin.close()
        await consumer.stop()
    return ends, committed


async def read_applied_received_at(
    conn: psycopg.AsyncConnection, group: str, topic: str
) -> dict[int, datetime]:
    """receivedAt of the last record the sink applied, per partition."""
    cursor = await conn.execute(_APPLIED_SQL, (group, topic))
    return {int(p): r for p, r in await cursor.fetchall()}


async def applied_received_at(database_url: str, group: str, topic: str) -> dict[int, datetime]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await read_applied_received_at(conn, group, topic)


async def read_stored(
    conn: psycopg.AsyncConnection, group: str, topic: str
) -> dict[int, StoredPartition]:
    """Per partition: the stored next offset, last receivedAt and inconsistency."""
    cursor = await conn.execute(_STORED_SQL, (group, topic))
    return {
        int(p): StoredPartition(
            int(offset),
            received,
            None if code is None else describe_inconsistency(code, int(offset), kafka_offset),
        )
        for p, offset, received, code, kafka_offset in await cursor.fetchall()
    }


async def group_lag(
    bootstrap: str, database_url: str, group: str, topic: str, now: datetime
) -> list[PartitionLag]:
    ends, committed = await kafka_positions(bootstrap, group, topic)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        stored = await read_stored(conn, group, topic)
    received = {p: s.last_received_at for p, s in stored.items()}
    return compute_lag(topic, ends, committed, received, now, stored)


async def lanes_lag(
    bootstrap: str, database_url: str, lanes: Sequence[tuple[str, str]], now: datetime
) -> list[PartitionLag]:
    """``group_lag`` of every (consumer group, topic) in ``lanes``, one after the other (a
    lane whose topic does not exist has no rows)."""
    rows: list[PartitionLag] = []
    for group, topic in lanes:
        rows += await group_lag(bootstrap, database_url, group, topic, now)
    return rows
