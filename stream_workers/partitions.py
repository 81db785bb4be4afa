"""Monthly partitions of the raw ``events`` table, created on demand (plain PostgreSQL).

A month's partition must exist before its first row arrives: a row that lands in the
DEFAULT partition makes creating that month's partition fail later. So the sink calls
``ensure_partitions`` outside its transaction (DDL there would lock the whole table
against the other workers) for the months of a batch that lie in the window below; rows
outside it (wild client clocks) go to DEFAULT on purpose. With TimescaleDB ``events`` is
a hypertable and this is a no-op.
"""

import logging
from collections.abc import Iterable
from datetime import MAXYEAR, date, datetime, timedelta

from psycopg import AsyncConnection, errors, sql

logger = logging.getLogger(__name__)

PAST_WINDOW = timedelta(days=5 * 366)
FUTURE_WINDOW = timedelta(days=31)


def partition_month(ts: datetime, received: datetime) -> date | None:
    """The month (first day) whose partition a row of ``ts`` goes to, or None for DEFAULT
    (also December 9999, whose partition would end in a year no date holds)."""
    if received - PAST_WINDOW <= ts <= received + FUTURE_WINDOW and ts.year < MAXYEAR:
        return date(ts.year, ts.month, 1)
    return None


def partition_name(month: date) -> str:
    return f"events_{month.year:04d}_{month.month:02d}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


class Partitioner:
    def __init__(self) -> None:
        self._known: set[date] = set()
        self._partitioned: bool | None = None

    async def ensure(self, conn: AsyncConnection, months: Iterable[date]) -> None:
        """Create missing monthly partitions; ``conn`` must be outside a transaction."""
        wanted = set(months) - self._known
        if not wanted:
            return
        if self._partitioned is None:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'events'::regclass"
            )
            row = await cursor.fetchone()
            self._partitioned = bool(row and row[0])
        if not self._partitioned:
            self._known |= wanted
            return
        for month in sorted(wanted):
            statement = sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(partition_name(month)),
                sql.Literal(month.isoformat() + " 00:00:00+00"),
                sql.Literal(next_month(month).isoformat() + " 00:00:00+00"),
            )
            try:
                await conn.execute(statement)
            except errors.CheckViolation:
                # DEFAULT already holds rows of this month: they stay there, as will the rest.
                logger.warning("events of %s stay in the default partition", month)
            except (errors.DuplicateTable, errors.UniqueViolation):
                pass  # another worker created it between IF NOT EXISTS and the create
            self._known.add(month)
