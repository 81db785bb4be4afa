"""``python -m stream_workers offsets reset``: an operator's deliberate recovery of a
partition held as inconsistent with Kafka (docs/operations.md, "Kafka was reset").

Every partition of the topic starts again at its log start offset, in PostgreSQL (next
offset, the topic's id, the hold cleared) and in Kafka (the consumer group's committed
offsets), so the workers apply everything the topic holds now. Records the old offsets
stood for are not touched: what was applied stays applied, and what Kafka lost is lost
(a replay into a fresh schema is the alternative that rebuilds from the log alone).

It refuses while the group has members (stop the workers first: a running worker would
commit its own positions over the reset) and without ``--yes`` prints what it would do.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common.lag import describe_inconsistency
from stream_workers import store
from stream_workers.consistency import StoredOffset
from stream_workers.topic_identity import TopicReader, TopicState


class ResetRefused(Exception):
    """The reset cannot be done now; the message says why."""


@dataclass(frozen=True, slots=True)
class PartitionReset:
    partition: int
    stored: int | None  # the stored next offset before (None: no row)
    start: int | None  # where it starts again (None: the topic no longer has it)
    inconsistency: str | None  # why it was held, if it was


def plan_reset(rows: Sequence[StoredOffset], topic: TopicState) -> list[PartitionReset]:
    """What a reset does to each partition (pure)."""
    stored = {row.partition: row for row in rows}
    plan = []
    for partition in sorted(set(stored) | set(topic.starts)):
        row = stored.get(partition)
        why = None
        if row is not None and row.inconsistent is not None:
            why = describe_inconsistency(row.inconsistent, row.next_offset, row.kafka_offset)
        plan.append(
            PartitionReset(
                partition,
                None if row is None else row.next_offset,
                topic.starts.get(partition),
                why,
            )
        )
    return plan


def format_plan(group: str, topic: str, topic_id: uuid.UUID, plan: list[PartitionReset]) -> str:
    lines = [f"reset of group {group} on topic {topic} (topic id {topic_id}):"]
    for p in plan:
        before = "-" if p.stored is None else str(p.stored)
        after = "removed (no such partition)" if p.start is None else f"{p.start} (log start)"
        held = f"  [held: {p.inconsistency}]" if p.inconsistency else ""
        lines.append(f"  partition {p.partition:>3}: next offset {before} -> {after}{held}")
    return "\n".join(lines)


async def group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return sum(len(g["members"]) for g in response.to_object()["groups"])


async def commit_group_offsets(
    bootstrap: str, group: str, topic: str, starts: dict[int, int]
) -> None:
    """Set ``group``'s committed offsets on ``topic`` (the group must have no members)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = {TopicPartition(topic, p): offset for p, offset in starts.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


async def reset(bootstrap: str, database_url: str, group: str, topic: str, confirmed: bool) -> str:
    """Reset ``group``'s offsets on ``topic`` to its log start (see the module docstring);
    the plan as text. Raises ``ResetRefused`` when it cannot, or was not confirmed."""
    reader = TopicReader(bootstrap)
    await reader.start()
    try:
        state = await reader.read(topic)
    finally:
        await reader.stop()
    if state is None:
        raise ResetRefused(f"topic {topic} does not exist in Kafka: nothing to reset to")
    members = await group_members(bootstrap, group)
    if members:
        raise ResetRefused(f"group {group} has {members} running member(s): stop its workers first")
    async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
        rows = await store.lock_topic_offsets(conn, group, topic)
        text = format_plan(group, topic, state.topic_id, plan_reset(rows, state))
        if not confirmed:
            raise ResetRefused(f"{text}\nnothing changed: add --yes to reset")
        await store.reset_offsets(conn, group, topic, state.topic_id, state.starts)
    await commit_group_offsets(bootstrap, group, topic, state.starts)
    return f"{text}\ndone: start the workers"
