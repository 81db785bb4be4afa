"""Person deletions (issue 17, contracts/erasure.py), carried out by a shard's workers.

A request (``person_deletions``, in the control database) is claimed with a lease by one
of the shard's main-lane workers, then, in the shard's database:

1. **Tombstones**, in one short transaction holding the project's lock exclusively, for
   the named ids and every id merged with them (issue 18's identity: the same person). From
   its commit on, no batch applies an event of these persons: the sink reads the
   tombstones under the same lock, held shared (``stream_workers.store.buried``).
2. **Slices**: each (event name, UTC day) that still has raw events of theirs, one
   transaction each, the lock held again: their raw rows deleted (and counted on their
   tombstones), then that day's rollups and breakdowns of that event rebuilt from the raw
   events left, with the statement that applies a batch (``projections.aggregate``): the
   counts exact, the sketches as if their hashes had never been added. One slice at a
   time, so a batch of the project waits for one slice at most, not for the whole request.
3. **Done**: their aliases (``person_aliases``) and derived sessions removed, the
   request's count (its tombstones' sum) and status written, its distinct ids cleared
   (the tombstones keep digests only).

Each step can be done again: a worker that dies midway leaves the request to another once
its lease has passed, which finds only what is left. Usage counts are not touched (they
are what the project is billed for: docs/privacy.md).
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from contracts.buckets import EPOCH
from contracts.erasure import DeletionStatus, person_digest, project_lock_key
from stream_workers import identity, projections, sessions

logger = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[AsyncConnection[Any]]]
DAY = timedelta(days=1)

_CLAIM = """
UPDATE person_deletions d
SET status = %(running)s, started_at = coalesce(d.started_at, now()),
    lease_until = now() + make_interval(secs => %(lease)s)
WHERE d.id = (
    SELECT o.id FROM person_deletions o JOIN projects p ON p.id = o.project_id
    WHERE o.status <> %(done)s AND (o.lease_until IS NULL OR o.lease_until < now())
      AND p.shard = %(shard)s
    ORDER BY o.created_at LIMIT 1
    FOR UPDATE OF o SKIP LOCKED)
RETURNING d.id::text, d.project_id::text, d.distinct_ids
"""

_RENEW = (
    "UPDATE person_deletions SET lease_until = now() + make_interval(secs => %s), events = %s"
    " WHERE id = %s"
)

_FINISH = (
    "UPDATE person_deletions SET status = %s, events = %s, finished_at = now(),"
    " lease_until = NULL, distinct_ids = '{}' WHERE id = %s"
)

# A person deleted before keeps their tombstone; it now counts for this request (from 0:
# the earlier one's count is in its own row of person_deletions). This request's own
# tombstones, written before a crash, keep their counts.
_TOMBSTONES = """
INSERT INTO person_tombstones AS t (project_id, person, deletion_id)
SELECT %s, d, %s FROM unnest(%s::bytea[]) d
ON CONFLICT (project_id, person) DO UPDATE SET
    deletion_id = EXCLUDED.deletion_id,
    events = CASE WHEN t.deletion_id = EXCLUDED.deletion_id THEN t.events ELSE 0 END
"""

_SLICES = (
    "SELECT DISTINCT event, date_bin('1 day', ts, %s) FROM events"
    " WHERE project_id = %s AND distinct_id = ANY(%s) ORDER BY 1, 2"
)

_DELETE_RAW = """
WITH gone AS (
    DELETE FROM events
    WHERE project_id = %(project)s AND event = %(event)s AND ts >= %(day)s AND ts < %(next)s
      AND distinct_id = ANY(%(ids)s)
    RETURNING distinct_id)
SELECT distinct_id, count(*) FROM gone GROUP BY 1
"""

_SLICE_KEYS = (
    "SELECT DISTINCT key FROM breakdown_rollups WHERE project_id = %s AND event = %s"
    " AND granularity = 'day' AND bucket = %s ORDER BY 1"
)

_RESTAGE = f"""
INSERT INTO batch_events ({projections.COLUMNS})
SELECT {projections.COLUMNS} FROM events
WHERE project_id = %(project)s AND event = %(event)s AND ts >= %(day)s AND ts < %(next)s
"""  # noqa: S608 - constant column list


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    project_id: str
    distinct_ids: list[str]


class Eraser:
    """Carries out the shard's pending person deletions, one at a time."""

    def __init__(
        self, shard: str, connect_shard: Connect, connect_control: Connect, lease_seconds: float
    ) -> None:
        self._shard = shard
        self._connect_shard = connect_shard
        self._connect_control = connect_control
        self._lease = lease_seconds
        self._db: AsyncConnection[Any] | None = None
        self._control: AsyncConnection[Any] | None = None

    async def run_pending(self) -> int:
        """Carry out every request open for this shard; how many were finished."""
        finished = 0
        while (request := await self._claim()) is not None:
            events = await self.erase(request)
            await (await self._control_conn()).execute(
                _FINISH, (DeletionStatus.DONE, events, request.id)
            )
            logger.info("person deletion %s done: %d events", request.id, events)
            finished += 1
        return finished

    async def erase(self, request: Request) -> int:
        """Steps 1 and 2 for one request; the raw events its tombstones count."""
        db = await self._shard_conn()
        lock = project_lock_key(request.project_id)
        async with db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            # Every id merged with theirs (issue 18's identity) is the same person's.
            ids = await identity.every_id(db, request.project_id, request.distinct_ids)
            request = replace(request, distinct_ids=ids)
            digests = [person_digest(d) for d in ids]
            await db.execute(_TOMBSTONES, (request.project_id, request.id, digests))
        cursor = await db.execute(_SLICES, (EPOCH, request.project_id, request.distinct_ids))
        for event, day in await cursor.fetchall():
            await self._rebuild_slice(db, lock, request, str(event), day)
            await (await self._control_conn()).execute(
                _RENEW, (self._lease, await self._counted(db, request), request.id)
            )
        await identity.forget(db, request.project_id, request.distinct_ids)
        await sessions.forget(db, request.project_id, request.distinct_ids)
        return await self._counted(db, request)

    async def _rebuild_slice(
        self, db: AsyncConnection[Any], lock: int, request: Request, event: str, day: datetime
    ) -> None:
        where = {"project": request.project_id, "event": event, "day": day, "next": day + DAY}
        async with db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            cursor = await db.execute(_DELETE_RAW, {**where, "ids": request.distinct_ids})
            deleted = await cursor.fetchall()
            await db.execute(
                "UPDATE person_tombstones t SET events = t.events + c.n"
                " FROM unnest(%s::bytea[], %s::bigint[]) c(person, n)"
                " WHERE t.project_id = %s AND t.person = c.person",
                (
                    [person_digest(str(d)) for d, _ in deleted],
                    [int(n) for _, n in deleted],
                    request.project_id,
                ),
            )
            keys = [
                str(k)
                for (k,) in await (
                    await db.execute(_SLICE_KEYS, (request.project_id, event, day))
                ).fetchall()
            ]
            for table in ("rollups", "breakdown_rollups"):
                await db.execute(
                    f"DELETE FROM {table} WHERE project_id = %s AND event = %s"  # noqa: S608 - constant
                    " AND bucket >= %s AND bucket < %s",
                    (request.project_id, event, day, day + DAY),
                )
            await db.execute(_RESTAGE, where)
            await projections.aggregate(db, {request.project_id: keys})

    @staticmethod
    async def _counted(db: AsyncConnection[Any], request: Request) -> int:
        cursor = await db.execute(
            "SELECT coalesce(sum(events), 0) FROM person_tombstones"
            " WHERE project_id = %s AND deletion_id = %s",
            (request.project_id, request.id),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _claim(self) -> Request | None:
        cursor = await (await self._control_conn()).execute(
            _CLAIM,
            {
                "running": DeletionStatus.RUNNING,
                "done": DeletionStatus.DONE,
                "lease": self._lease,
                "shard": self._shard,
            },
        )
        row = await cursor.fetchone()
        return None if row is None else Request(str(row[0]), str(row[1]), list(row[2]))

    async def _shard_conn(self) -> AsyncConnection[Any]:
        if self._db is None or self._db.closed or self._db.broken:
            self._db = await self._connect_shard()
            await self._db.execute(projections.CREATE_STAGING)
        return self._db

    async def _control_conn(self) -> AsyncConnection[Any]:
        if self._control is None or self._control.closed or self._control.broken:
            self._control = await self._connect_control()
        return self._control

    async def close(self) -> None:
        for conn in (self._db, self._control):
            if conn is not None:
                await conn.close()
