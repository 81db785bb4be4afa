"""The SQL of one batch transaction: row locks, offsets, dedup and usage (the projection
writes are in stream_workers.projections).

Every function runs inside the caller's transaction. Locks are always taken in the same
order (offsets by partition, then usage rows, then dedup keys, each sorted) so two
workers wait for each other instead of deadlocking; the sink retries the rare deadlock.
Property keys and values are bound parameters or copied data, never SQL text.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from contracts.erasure import project_lock_key
from contracts.lanes import Lane
from contracts.usage import UsageRow, usage_slot
from stream_workers.consistency import StoredOffset, Verdict
from stream_workers.decisions import DedupKey, MonthKey, UsageOutcome


async def lock_offsets(
    conn: AsyncConnection,
    consumer: str,
    topic: str,
    partitions: Sequence[int],
    topic_id: uuid.UUID | None = None,
) -> dict[int, StoredOffset]:
    """Lock the partitions' offset rows (creating them, with ``topic_id`` when the topic was
    checked) and return them."""
    parts = sorted(set(partitions))
    await conn.execute(
        "INSERT INTO consumer_offsets (consumer, topic, partition, topic_id)"
        " SELECT %s, %s, unnest(%s::int[]), %s ON CONFLICT DO NOTHING",
        (consumer, topic, parts, topic_id),
    )
    cursor = await conn.execute(
        "SELECT partition, next_offset, topic_id, log_start, inconsistent, kafka_offset"
        " FROM consumer_offsets"
        " WHERE consumer = %s AND topic = %s AND partition = ANY(%s)"
        " ORDER BY partition FOR UPDATE",
        (consumer, topic, parts),
    )
    return {row.partition: row for row in map(_stored, await cursor.fetchall())}


async def lock_topic_offsets(
    conn: AsyncConnection, consumer: str, topic: str
) -> list[StoredOffset]:
    """Lock every offset row of ``consumer`` on ``topic``, in partition order (the sink's
    order too, so the two never deadlock)."""
    cursor = await conn.execute(
        "SELECT partition, next_offset, topic_id, log_start, inconsistent, kafka_offset"
        " FROM consumer_offsets"
        " WHERE consumer = %s AND topic = %s ORDER BY partition FOR UPDATE",
        (consumer, topic),
    )
    return [_stored(row) for row in await cursor.fetchall()]


async def save_verdicts(
    conn: AsyncConnection, consumer: str, topic: str, verdicts: Sequence[Verdict]
) -> None:
    """Store what a check found: the topic id and log start seen, and a new inconsistency
    (an existing one and its offsets are kept: only a reset clears them)."""
    if not verdicts:
        return
    ordered = sorted(verdicts, key=lambda v: v.partition)
    await conn.execute(
        "UPDATE consumer_offsets c SET topic_id = d.topic_id, log_start = d.log_start,"
        " inconsistent = COALESCE(c.inconsistent, d.problem),"
        " kafka_offset = CASE WHEN c.inconsistent IS NULL THEN d.kafka_offset"
        "   ELSE c.kafka_offset END,"
        " inconsistent_since = CASE WHEN c.inconsistent IS NULL AND d.problem IS NOT NULL"
        "   THEN now() ELSE c.inconsistent_since END"
        " FROM unnest(%s::int[], %s::uuid[], %s::bigint[], %s::text[], %s::bigint[])"
        " d(partition, topic_id, log_start, problem, kafka_offset)"
        " WHERE c.consumer = %s AND c.topic = %s AND c.partition = d.partition",
        (
            [v.partition for v in ordered],
            [v.topic_id for v in ordered],
            [v.log_start for v in ordered],
            [v.problem for v in ordered],
            [v.kafka_offset for v in ordered],
            consumer,
            topic,
        ),
    )


async def reset_offsets(
    conn: AsyncConnection,
    consumer: str,
    topic: str,
    topic_id: uuid.UUID,
    starts: Mapping[int, int],
) -> None:
    """An operator's reset: every partition of the topic starts again at its log start,
    under the topic's id, consistent; rows of partitions the topic no longer has go."""
    parts = sorted(starts)
    await conn.execute(
        "DELETE FROM consumer_offsets WHERE consumer = %s AND topic = %s"
        " AND NOT partition = ANY(%s::int[])",
        (consumer, topic, parts),
    )
    await conn.execute(
        "INSERT INTO consumer_offsets AS c (consumer, topic, partition, next_offset, topic_id,"
        " log_start) SELECT %s, %s, d.partition, d.start, %s, d.start"
        " FROM unnest(%s::int[], %s::bigint[]) d(partition, start)"
        " ON CONFLICT (consumer, topic, partition) DO UPDATE SET"
        " next_offset = EXCLUDED.next_offset, topic_id = EXCLUDED.topic_id,"
        " log_start = EXCLUDED.log_start, inconsistent = NULL, kafka_offset = NULL,"
        " inconsistent_since = NULL, updated_at = now()",
        (consumer, topic, topic_id, parts, [starts[p] for p in parts]),
    )


def _stored(row: tuple[Any, ...]) -> StoredOffset:
    partition, next_offset, topic_id, log_start, inconsistent, kafka_offset = row
    return StoredOffset(
        int(partition),
        int(next_offset),
        topic_id,
        None if log_start is None else int(log_start),
        inconsistent,
        None if kafka_offset is None else int(kafka_offset),
    )


async def save_offsets(
    conn: AsyncConnection,
    consumer: str,
    topic: str,
    positions: Mapping[int, tuple[int, datetime | None]],
) -> None:
    """Store next offset and last applied receivedAt per partition."""
    parts = sorted(positions)
    await conn.execute(
        "UPDATE consumer_offsets c SET next_offset = d.next_offset,"
        " last_received_at = COALESCE(d.received_at, c.last_received_at), updated_at = now()"
        " FROM unnest(%s::int[], %s::bigint[], %s::timestamptz[]) d(partition, next_offset,"
        " received_at) WHERE c.consumer = %s AND c.topic = %s AND c.partition = d.partition",
        (
            parts,
            [positions[p][0] for p in parts],
            [positions[p][1] for p in parts],
            consumer,
            topic,
        ),
    )


async def share_projects(conn: AsyncConnection, project_ids: Iterable[str]) -> None:
    """Hold each project's lock shared until commit: a person's deletion holds it
    exclusively while it writes the tombstone and rewrites the project's rows
    (contracts/erasure.py), so this batch is applied wholly before or wholly after."""
    keys = sorted({project_lock_key(p) for p in project_ids})
    if keys:
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock_shared(k)) FROM unnest(%s::bigint[]) k", (keys,)
        )


async def buried(conn: AsyncConnection, project_ids: Iterable[str]) -> set[tuple[int, int]]:
    """The (partition, offset) of the staged records of deleted persons (their tombstones,
    contracts/erasure.py): never applied, whenever they arrive."""
    projects = sorted(set(project_ids))
    cursor = await conn.execute(
        "SELECT DISTINCT project_id::text FROM person_tombstones"
        " WHERE project_id = ANY(%s::uuid[])",
        (projects,),
    )
    with_tombstones = [str(p) for (p,) in await cursor.fetchall()]
    if not with_tombstones:
        return set()
    cursor = await conn.execute(
        "SELECT b.part, b.pos FROM batch_events b JOIN person_tombstones t"
        " ON t.project_id = b.project_id"
        " AND t.person = sha256(convert_to(b.distinct_id, 'UTF8'))"
        " WHERE b.project_id = ANY(%s::uuid[])",
        (with_tombstones,),
    )
    return {(int(part), int(pos)) for part, pos in await cursor.fetchall()}


async def plan_limits(conn: AsyncConnection, project_ids: Iterable[str]) -> dict[str, int]:
    cursor = await conn.execute(
        "SELECT id::text, monthly_event_limit FROM projects WHERE id = ANY(%s::uuid[])",
        (sorted(set(project_ids)),),
    )
    return {str(p): int(limit) for p, limit in await cursor.fetchall()}


async def lock_usage(conn: AsyncConnection, keys: Iterable[MonthKey]) -> dict[MonthKey, int]:
    """Lock each project-month usage row (creating it), in key order, before the dedup
    claims: the batch's usage update at the end then never deadlocks with another worker
    counting the same project-month. Returns the rows' counts so far."""
    ordered = sorted(set(keys))
    projects, months = [k[0] for k in ordered], [k[1] for k in ordered]
    await conn.execute(
        "INSERT INTO usage_months (project_id, month)"
        " SELECT * FROM unnest(%s::uuid[], %s::date[]) ON CONFLICT DO NOTHING",
        (projects, months),
    )
    cursor = await conn.execute(
        "SELECT m.project_id::text, m.month, m.used FROM usage_months m"
        " JOIN unnest(%s::uuid[], %s::date[]) k(project_id, month)"
        " ON m.project_id = k.project_id AND m.month = k.month"
        " ORDER BY m.project_id, m.month FOR UPDATE OF m",
        (projects, months),
    )
    return {(str(p), m): int(u) for p, m, u in await cursor.fetchall()}


async def claim_dedup(conn: AsyncConnection) -> dict[DedupKey, datetime]:
    """Record the staged insertIds never seen before, each at its first sighting in the
    batch; lock and return those counted before (key -> received_at last counted).

    The new keys are inserted first, in key order, so a concurrent worker holding the
    same new key waits on the unique index until this transaction ends, and then finds
    it counted. The keys counted before are locked by that same statement (an ``ON
    CONFLICT DO UPDATE`` that updates nothing still locks), so the dedup pruning
    (stream_workers/dedup_pruning.py) cannot delete one before the next statement reads
    it: a key neither inserted nor read back would be counted with no row left to say so.
    Rows this transaction inserted (``xmin``: the sink's transactions are never
    subtransactions) are the new keys, so only older rows come back."""
    await conn.execute(CLAIM_NEW)
    cursor = await conn.execute(
        "SELECT d.project_id::text, d.insert_id, d.received_at FROM event_dedup d"
        " JOIN (SELECT DISTINCT project_id, insert_id FROM batch_events"
        "       WHERE insert_id IS NOT NULL) k"
        " ON d.project_id = k.project_id AND d.insert_id = k.insert_id"
        " WHERE d.xmin <> pg_current_xact_id()::xid"
        " ORDER BY 1, 2 FOR UPDATE OF d"
    )
    return {(str(p), str(i)): r for p, i, r in await cursor.fetchall()}


CLAIM_NEW = (
    "INSERT INTO event_dedup (project_id, insert_id, received_at)"
    " SELECT project_id, insert_id, min(received_at) FROM batch_events"
    " WHERE insert_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    " ON CONFLICT (project_id, insert_id) DO UPDATE SET received_at = event_dedup.received_at"
    " WHERE false"
)


async def save_dedup(conn: AsyncConnection, changed: Mapping[DedupKey, datetime]) -> None:
    """Rewrite the received_at last counted of keys ``claim_dedup`` did not leave right."""
    ordered = sorted(changed)
    if not ordered:
        return
    await conn.execute(
        "UPDATE event_dedup d SET received_at = u.r"
        " FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[]) u(p, i, r)"
        " WHERE d.project_id = u.p AND d.insert_id = u.i",
        ([k[0] for k in ordered], [k[1] for k in ordered], [changed[k] for k in ordered]),
    )


async def save_usage(
    conn: AsyncConnection, outcome: UsageOutcome, lane: Lane = Lane.MAIN
) -> list[UsageRow]:
    """Add the batch's usage; return every touched slot row (``usage_partitions.partition``
    holds the lane's usage slot of the topic partition: ``contracts.usage.usage_slot``)
    with the absolute values Redis gets after commit."""
    months = sorted(outcome.months)
    await conn.execute(
        "UPDATE usage_months m SET used = m.used + d.used"
        " FROM unnest(%s::uuid[], %s::date[], %s::bigint[]) d(p, m, used)"
        " WHERE m.project_id = d.p AND m.month = d.m",
        (
            [k[0] for k in months],
            [k[1] for k in months],
            [outcome.months[k].used for k in months],
        ),
    )
    parts = sorted(outcome.parts)
    cursor = await conn.execute(
        "INSERT INTO usage_partitions AS u"
        " (project_id, month, partition, used, reserved_seen, last_offset)"
        " SELECT * FROM unnest(%s::uuid[], %s::date[], %s::int[], %s::bigint[], %s::bigint[],"
        " %s::bigint[])"
        " ON CONFLICT (project_id, month, partition) DO UPDATE SET"
        " used = u.used + EXCLUDED.used,"
        " reserved_seen = u.reserved_seen + EXCLUDED.reserved_seen,"
        " last_offset = GREATEST(u.last_offset, EXCLUDED.last_offset)"
        " RETURNING project_id::text, month, partition, used, reserved_seen, last_offset",
        (
            [k[0] for k in parts],
            [k[1] for k in parts],
            [usage_slot(lane, k[2]) for k in parts],
            [outcome.parts[k].used for k in parts],
            [outcome.parts[k].reserved_seen for k in parts],
            [outcome.parts[k].last_offset for k in parts],
        ),
    )
    return [UsageRow(str(p), m, n, u, r, o) for p, m, n, u, r, o in await cursor.fetchall()]


async def save_bot_events(conn: AsyncConnection, counts: Mapping[MonthKey, int]) -> None:
    """Add the batch's crawler events to ``bot_events``. Their project-months' usage rows
    are locked already (``lock_usage``), so concurrent batches add one after the other."""
    keys = sorted(counts)
    if not keys:
        return
    await conn.execute(
        "INSERT INTO bot_events AS b (project_id, month, events)"
        " SELECT * FROM unnest(%s::uuid[], %s::date[], %s::bigint[])"
        " ON CONFLICT (project_id, month) DO UPDATE SET events = b.events + EXCLUDED.events",
        ([k[0] for k in keys], [k[1] for k in keys], [counts[k] for k in keys]),
    )
