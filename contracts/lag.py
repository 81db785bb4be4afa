"""Consumer lag per partition: log-end offset, the group's committed offset, lag and freshness.

Shared by the stream workers (their ``lag`` command and gauges) and the dashboard's ops
view, so both show the same figures. The numbers come from where Kafka's own
``kafka-consumer-groups --describe`` takes them (the group coordinator's committed offsets
and each partition's log-end offset), so the two agree; freshness is now minus the
receivedAt of the last record the sink applied in that partition (from
``consumer_offsets`` in PostgreSQL).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

_APPLIED_SQL = (
    "SELECT partition, last_received_at FROM consumer_offsets"
    " WHERE consumer = %s AND topic = %s AND last_received_at IS NOT NULL"
)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    log_end: int
    committed: int | None  # None: the group has committed nothing there yet
    lag: int | None
    freshness_seconds: float | None


def compute_lag(
    topic: str,
    ends: Mapping[int, int],
    committed: Mapping[int, int],
    last_received: Mapping[int, datetime | None],
    now: datetime,
) -> list[PartitionLag]:
    """One row per partition; lag as Kafka's tool computes it (log end - committed)."""
    rows = []
    for partition in sorted(ends):
        done = committed.get(partition)
        received = last_received.get(partition)
        rows.append(
            PartitionLag(
                topic=topic,
                partition=partition,
                log_end=ends[partition],
                committed=done,
                lag=None if done is None else ends[partition] - done,
                freshness_seconds=None if received is None else (now - received).total_seconds(),
            )
        )
    return rows


async def log_ends(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    """Log-end offset per partition of ``topic`` ({} when it does not exist), on a started
    consumer."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
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


async def group_lag(
    bootstrap: str, database_url: str, group: str, topic: str, now: datetime
) -> list[PartitionLag]:
    ends, committed = await kafka_positions(bootstrap, group, topic)
    received = await applied_received_at(database_url, group, topic)
    return compute_lag(topic, ends, committed, received, now)


async def lanes_lag(
    bootstrap: str, database_url: str, lanes: Sequence[tuple[str, str]], now: datetime
) -> list[PartitionLag]:
    """``group_lag`` of every (consumer group, topic) in ``lanes``, one after the other (a
    lane whose topic does not exist has no rows)."""
    rows: list[PartitionLag] = []
    for group, topic in lanes:
        rows += await group_lag(bootstrap, database_url, group, topic, now)
    return rows
