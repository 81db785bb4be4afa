"""The raw ``events`` table's tables (PostgreSQL partitions, not Kafka's), created on demand
(plain PostgreSQL): one per month, each split by project (docs/decisions/0016), so that
retention drops whole tables.

A month's table must exist before its first row arrives: a row that lands in the DEFAULT
partition makes creating that month's table fail later. So the sink calls ``ensure``
outside its transaction (DDL there would lock the table against the other workers) for
the (month, project) pairs of a batch whose months lie in the window below; rows outside
it (wild client clocks) go to DEFAULT on purpose. Months made before migration 0038 are
not split: a project's rows of such a month go into it. With TimescaleDB ``events`` is a
hypertable and this is a no-op.
"""

import functools
import logging
from collections.abc import Iterable
from datetime import MAXYEAR, date, datetime, timedelta
from uuid import UUID

from psycopg import AsyncConnection, errors, sql

logger = logging.getLogger(__name__)

PAST_WINDOW = timedelta(days=5 * 366)
FUTURE_WINDOW = timedelta(days=31)


@functools.cache
def first_day(year: int, month: int) -> date:
    """One date object a month: a worker's batches hold two per record (its usage month
    and its partition's), 64 bytes a record when each is its own."""
    return date(year, month, 1)


def partition_month(ts: datetime, received: datetime) -> date | None:
    """The month (first day) whose partition a row of ``ts`` goes to, or None for DEFAULT
    (also December 9999, whose partition would end in a year no date holds)."""
    if received - PAST_WINDOW <= ts <= received + FUTURE_WINDOW and ts.year < MAXYEAR:
        return first_day(ts.year, ts.month)
    return None


def partition_name(month: date) -> str:
    return f"events_{month.year:04d}_{month.month:02d}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def project_partition_name(month: date, project_id: str) -> str:
    """``events_2026_12_p`` and the project's UUID in hex (48 characters, under the 63 an
    identifier may have)."""
    return f"{partition_name(month)}_p{UUID(project_id).hex}"


Slot = tuple[date, str]  # (month, project id): one table of the raw store


def missing_partition(exc: BaseException) -> bool:
    """Whether the database refused a row because its (month, project) table is gone: the
    retention job dropped it after this worker had made sure of it (not a data error)."""
    return isinstance(exc, errors.CheckViolation) and "no partition of relation" in str(exc)


_STATE = """
SELECT c.relkind::text, i.inhparent IS NOT NULL, coalesce(i.inhdetachpending, false)
FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
WHERE c.oid = to_regclass(%s)
"""

# Another worker, or the retention job, doing the same at the same moment.
_RACES = (
    errors.DuplicateTable,
    # Two CREATE TABLEs of one name at once: the loser may trip on the table's row type
    # ("type ... already exists") before it sees the table itself.
    errors.DuplicateObject,
    errors.UniqueViolation,
    errors.InvalidObjectDefinition,
    errors.UndefinedTable,
    errors.ObjectNotInPrerequisiteState,
    errors.WrongObjectType,  # "... is already a partition"
)


class Partitioner:
    """Makes sure of the tables a batch's rows go to, remembering what it made sure of."""

    def __init__(self) -> None:
        self._known: set[Slot] = set()
        self._by_project: dict[date, bool] = {}  # month → whether split by project
        self._partitioned: bool | None = None

    def forget(self) -> None:
        """Check every table again (one was dropped under this worker's feet)."""
        self._known.clear()
        self._by_project.clear()

    async def ensure(self, conn: AsyncConnection, slots: Iterable[Slot]) -> None:
        """Create missing (month, project) tables; ``conn`` must be outside a transaction."""
        wanted = set(slots) - self._known
        if not wanted:
            return
        if self._partitioned is None:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'events'::regclass"
            )
            row = await cursor.fetchone()
            self._partitioned = bool(row and row[0])
        if self._partitioned:
            for month in sorted({month for month, _ in wanted} - self._by_project.keys()):
                self._by_project[month] = await _ensure_month(conn, month)
            for month, project in sorted(wanted):
                if self._by_project[month]:
                    await _ensure_project(conn, month, project)
        self._known |= wanted


async def _state(conn: AsyncConnection, name: str) -> tuple[str, bool, bool] | None:
    cursor = await conn.execute(_STATE, (name,))
    row = await cursor.fetchone()
    return (str(row[0]), bool(row[1]), bool(row[2])) if row else None


async def _ensure_month(conn: AsyncConnection, month: date) -> bool:
    """The month's table, split by project when it is created now; whether it is split
    (a month made before migration 0038, or held by DEFAULT, is not)."""
    name = partition_name(month)
    state = await _state(conn, name)
    if state is None:
        statement = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})"
            " PARTITION BY LIST (project_id)"
        ).format(
            sql.Identifier(name),
            sql.Literal(month.isoformat() + " 00:00:00+00"),
            sql.Literal(next_month(month).isoformat() + " 00:00:00+00"),
        )
        try:
            await conn.execute(statement)
        except errors.CheckViolation:
            # DEFAULT already holds rows of this month: they stay there, as will the rest.
            logger.warning("events of %s stay in the default partition", month)
            return False
        except _RACES:
            pass  # another worker created it between the check and the create
        state = await _state(conn, name)
    return state is not None and state[0] == "p"


async def _ensure_project(conn: AsyncConnection, month: date, project: str) -> None:
    """The project's table of the month, attached. Made apart and then attached: ``CREATE
    TABLE ... PARTITION OF`` would wait for every query reading the month (an ACCESS
    EXCLUSIVE lock on it), where ``ATTACH PARTITION`` takes a lock readers and writers
    do not conflict with."""
    name = project_partition_name(month, project)
    parent = sql.Identifier(partition_name(month))
    table = sql.Identifier(name)
    for _ in range(3):
        try:
            state = await _state(conn, name)
            if state is not None and state[1] and not state[2]:
                return
            if state is not None and state[2]:
                # A drop the retention job began (this month has passed the project's
                # retention) and did not finish: finished here, as the job would have.
                await conn.execute(
                    sql.SQL("ALTER TABLE {} DETACH PARTITION {} FINALIZE").format(parent, table)
                )
                await conn.execute(sql.SQL("DROP TABLE {}").format(table))
                state = None
            if state is None:
                await conn.execute(
                    sql.SQL(
                        "CREATE TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                    ).format(table)
                )
            await conn.execute(
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                    parent, table, sql.Literal(project)
                )
            )
            return
        except _RACES:
            continue  # someone else did a step first: look again
    raise RuntimeError(f"could not make sure of the raw table {name}")
