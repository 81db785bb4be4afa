"""Reading a project's raw events out of its shard's database, in bounded memory.

A person's events (an access request) or a project's events of a time range (an
export) are read through a server-side cursor, a batch of rows at a time, inside one
read-only REPEATABLE READ transaction: the count given up front and the rows that follow
come from the same snapshot, so they agree even while the workers keep writing.
"""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from psycopg import AsyncConnection, AsyncServerCursor, sql

from control_plane.event_rows import COLUMNS, Row

BATCH_ROWS = 2000


@dataclass(frozen=True, slots=True)
class Selection:
    """Which events, as fixed SQL text and its parameters (never text from the caller)."""

    where: LiteralString
    params: tuple[Any, ...]
    order: LiteralString


def person_events(project_id: str, distinct_id: str) -> Selection:
    """Every stored event of one person, in timestamp order (the per-user index's)."""
    return Selection(
        "project_id = %s AND distinct_id = %s", (project_id, distinct_id), " ORDER BY ts, id"
    )


def range_events(project_id: str, start: datetime, end: datetime) -> Selection:
    """A project's events with ``start <= timestamp < end``, in storage order: the time
    partitions in order, each in about arrival order. Sorting millions of rows would cost
    the database a disk sort for an order no export format needs."""
    return Selection("project_id = %s AND ts >= %s AND ts < %s", (project_id, start, end), "")


@dataclass(slots=True)
class EventStream:
    count: int
    cursor: AsyncServerCursor[Any]

    async def batches(self, rows: int = BATCH_ROWS) -> AsyncGenerator[list[Row], None]:
        """The rows, a batch at a time, the next batch fetched while the caller handles
        this one: the database and the client then work at the same time, instead of
        each waiting for the other (two batches in memory at most). Close it
        (``contextlib.aclosing``) so that a fetch still running is waited for."""
        pending = asyncio.ensure_future(self.cursor.fetchmany(rows))
        try:
            while batch := await pending:
                pending = asyncio.ensure_future(self.cursor.fetchmany(rows))
                await asyncio.sleep(0)  # let it send the FETCH before the caller's work
                yield batch
        finally:
            if not pending.done():
                await asyncio.wait([pending])  # the connection runs one command at a time
            if not pending.cancelled():
                pending.exception()  # seen, whatever it was: the caller has its own error


@asynccontextmanager
async def open_stream(
    conn: AsyncConnection[Any], selection: Selection
) -> AsyncIterator[EventStream]:
    """The selection's count and a cursor over its rows, both in one snapshot."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        where = sql.SQL(selection.where)
        cursor = await conn.execute(
            sql.SQL("SELECT count(*) FROM events WHERE {}").format(where), selection.params
        )
        counted = await cursor.fetchone()
        assert counted is not None
        async with conn.cursor(name="raw_events") as rows:
            query = sql.SQL("SELECT {} FROM events WHERE {}{}").format(
                sql.SQL(COLUMNS), where, sql.SQL(selection.order)
            )
            await rows.execute(query, selection.params)
            yield EventStream(int(counted[0]), rows)
