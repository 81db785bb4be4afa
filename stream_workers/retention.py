"""Raw-event retention (issue 17, docs/decisions/0016): the job that drops whole tables.

Each shard's main-lane workers run it on a timer; one at a time per shard (a session
advisory lock; the others skip that round). One run:

1. reads each project's ``raw_retention_days`` (control database);
2. drops every (month, project) table of the raw store whose whole month lies past its
   project's retention: ``DETACH PARTITION ... CONCURRENTLY`` (readers and the sink go on
   meanwhile), then ``DROP TABLE``. A detach left pending by a run that died is
   finalized first, and a table left detached is dropped;
3. drops a whole month made before migration 0038 (not split by project) once it lies
   past the *longest* retention of the shard's projects; that takes a short lock on
   ``events`` (a DEFAULT partition rules out a concurrent detach), tried with a lock
   timeout and left to the next run if it passes;
4. deletes, row by row, the project's rows in ``events_default`` past its retention:
   only events whose timestamp lay more than five years before or a month after their
   receipt go there (stream_workers/raw_tables.py), so that table stays small;
5. prunes the derived sessions untouched for two hours (stream_workers/sessions.py);
6. records the run (``retention_runs``, control database) for the ops view.

Running it again finds nothing more to do: idempotent. Rollups are never touched.

With TimescaleDB (compose.yaml; decision 0004: not exercised by the suite) ``events`` is a
hypertable whose chunks hold every project: a run drops the chunks past the longest
retention (``drop_chunks``) and deletes, row by row, what a shorter retention leaves.
"""

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, errors, sql

from stream_workers import dedup_pruning, sessions
from stream_workers.dedup_pruning import PartitionState
from stream_workers.raw_tables import next_month, partition_name

logger = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[AsyncConnection[Any]]]

# One run at a time per shard database and schema: a session-level advisory lock of its
# own (two int4 keys: this class and the schema, so that deployments or tests sharing one
# database in schemas of their own do not wait for each other).
RUN_LOCK = 0x52_41_72_65  # "RAre"
RUN_LOCK_SQL = "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))"
DEFAULT_DAYS = 365
MONTH_LOCK_TIMEOUT = "5s"

_NAME = re.compile(r"^events_(\d{4})_(\d{2})(?:_p([0-9a-f]{32}))?$")


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the raw store, as the catalogue shows it."""

    name: str
    month: date
    project: str | None  # None: a whole month's table
    parent: str | None  # None: not attached (a run died between detach and drop)
    pending: bool  # a concurrent detach begun and not finished
    split: bool  # a month split by project (partitioned)
    children: int  # a split month's project tables


def parse_name(name: str) -> tuple[date, str | None] | None:
    """(month, project id) of a raw table's name; None for any other table."""
    match = _NAME.match(name)
    if not match:
        return None
    year, month, project = match.groups()
    if not 1 <= int(month) <= 12:
        return None
    hexed = project
    uuid = (
        None
        if hexed is None
        else "-".join((hexed[:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:]))
    )
    return date(int(year), int(month), 1), uuid


def cutoff(days: int, today: date) -> date:
    """Raw events before this day are past a retention of ``days``."""
    return today - timedelta(days=days)


def expired(month: date, days: int, today: date) -> bool:
    """Whether every event a month can hold is past a retention of ``days``."""
    return next_month(month) <= cutoff(days, today)


def doomed(tables: Iterable[Table], retention: Mapping[str, int], today: date) -> list[Table]:
    """The tables a run drops. A project table of a project the shard does not know (moved
    elsewhere, or gone) is kept. A month made before the split by project goes once past
    every known project's retention; a split month's own table, emptied, is kept (one
    catalogue entry, where dropping it would lock ``events`` and a late event of that month
    make it again under the same lock)."""
    longest = max(retention.values(), default=DEFAULT_DAYS)
    return [
        t
        for t in tables
        if (
            t.project is not None
            and t.project in retention
            and expired(t.month, retention[t.project], today)
        )
        or (
            t.project is None
            and not t.split
            and t.parent is not None
            and expired(t.month, longest, today)
        )
    ]


_TABLES = """
SELECT c.relname, p.relname, coalesce(i.inhdetachpending, false), c.relkind = 'p',
       (SELECT count(*) FROM pg_inherits k WHERE k.inhparent = c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'events\\_%%'
"""

_PROJECTS = "SELECT id::text, raw_retention_days FROM projects WHERE shard = %s"

_PAST = """
DELETE FROM {} d
USING unnest(%s::uuid[], %s::timestamptz[]) AS r(project_id, cutoff)
WHERE d.project_id = r.project_id AND d.ts < r.cutoff
"""

_RECORD = (
    "INSERT INTO retention_runs (shard, started_at, partitions, stray_rows, error)"
    " VALUES (%s, %s, %s, %s, %s)"
)


async def list_tables(db: AsyncConnection[Any]) -> list[Table]:
    tables = []
    for name, parent, pending, split, children in await (await db.execute(_TABLES)).fetchall():
        parsed = parse_name(name)
        if parsed is None or (parent is not None and not parent.startswith("events")):
            continue
        month, project = parsed
        if project is None and name != partition_name(month):
            continue
        tables.append(Table(name, month, project, parent, pending, split, int(children)))
    return tables


@dataclass(frozen=True, slots=True)
class Run:
    dropped: tuple[str, ...]
    stray_rows: int
    dedup_rows: int = 0  # insertIds pruned (stream_workers/dedup_pruning.py)


# The shard's lane partitions as Kafka and its stored offsets show them (on its connection).
LanePartitions = Callable[[AsyncConnection[Any]], Awaitable[list[PartitionState]]]


class Retainer:
    """Runs retention for one shard; with ``lane_partitions``, prunes its insertIds too."""

    def __init__(
        self,
        shard: str,
        connect_shard: Connect,
        connect_control: Connect,
        lane_partitions: LanePartitions | None = None,
    ) -> None:
        self._shard = shard
        self._connect_shard = connect_shard
        self._connect_control = connect_control
        self._lane_partitions = lane_partitions

    async def run(self, today: date | None = None) -> Run | None:
        """One run, recorded; None when another worker of the shard is running one."""
        started = datetime.now(UTC)
        today = today or started.date()
        async with await self._connect_shard() as db:
            row = await (await db.execute(RUN_LOCK_SQL, (RUN_LOCK,))).fetchone()
            if not (row and row[0]):
                return None
            async with await self._connect_control() as control:
                retention: dict[str, int] = dict(
                    await (await control.execute(_PROJECTS, (self._shard,))).fetchall()
                )
                dropped: list[str] = []
                strays = pruned = dedup = 0
                error = None
                try:
                    if await hypertable(db):
                        dropped = await drop_chunks(db, retention, today)
                        strays = await delete_past(db, "events", retention, today)
                    else:
                        for table in doomed(await list_tables(db), retention, today):
                            if await drop(db, table):
                                dropped.append(table.name)
                        strays = await delete_past(db, "events_default", retention, today)
                    pruned = await sessions.prune(db)
                    dedup = await self._prune_dedup(db, started)
                except Exception as exc:
                    error = type(exc).__name__
                    raise
                finally:
                    await control.execute(_RECORD, (self._shard, started, dropped, strays, error))
                    logger.info(
                        "retention run on shard %s: %d tables dropped, %d stray rows,"
                        " %d idle derived sessions, %d insertIds past the dedup window",
                        self._shard,
                        len(dropped),
                        strays,
                        pruned,
                        dedup,
                    )
            return Run(tuple(dropped), strays, dedup)

    async def _prune_dedup(self, db: AsyncConnection[Any], now: datetime) -> int:
        if self._lane_partitions is None:
            return 0
        before = dedup_pruning.cutoff(await self._lane_partitions(db), now)
        if before is None:
            logger.info("retention: a lane partition gives no bound; no insertId pruned")
            return 0
        return await dedup_pruning.prune(db, before)


async def drop(db: AsyncConnection[Any], table: Table) -> bool:
    """Drop one table (``db`` in autocommit); False when a month's lock was not had in
    time (the next run tries again)."""
    name = sql.Identifier(table.name)
    if table.project is not None:
        if table.parent is not None:
            parent = sql.Identifier(table.parent)
            how = "FINALIZE" if table.pending else "CONCURRENTLY"
            await db.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {} " + how).format(parent, name)
            )
        await db.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
        return True
    try:
        async with db.transaction():
            await db.execute(f"SET LOCAL lock_timeout = '{MONTH_LOCK_TIMEOUT}'")
            await db.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    except errors.LockNotAvailable:
        logger.warning("retention: %s is busy; left for the next run", table.name)
        return False
    return True


async def delete_past(
    db: AsyncConnection[Any], table: str, retention: Mapping[str, int], today: date
) -> int:
    """Rows of ``table`` past their project's retention, deleted."""
    if not retention:
        return 0
    projects = sorted(retention)
    cutoffs = [
        datetime.combine(cutoff(retention[p], today), datetime.min.time(), UTC) for p in projects
    ]
    cursor = await db.execute(sql.SQL(_PAST).format(sql.Identifier(table)), (projects, cutoffs))
    return max(cursor.rowcount, 0)


async def hypertable(db: AsyncConnection[Any]) -> bool:
    row = await (
        await db.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    ).fetchone()
    if not (row and row[0]):
        return False
    row = await (
        await db.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'events' AND hypertable_schema = current_schema()"
        )
    ).fetchone()
    return bool(row and row[0])


async def drop_chunks(
    db: AsyncConnection[Any], retention: Mapping[str, int], today: date
) -> list[str]:
    """TimescaleDB: the chunks past the longest retention, dropped whole."""
    longest = max(retention.values(), default=DEFAULT_DAYS)
    older = datetime.combine(cutoff(longest, today), datetime.min.time(), UTC)
    cursor = await db.execute("SELECT drop_chunks('events', older_than => %s)::text", (older,))
    return [str(name) for (name,) in await cursor.fetchall()]
