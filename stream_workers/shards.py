"""A sharded worker's view of the control database (contracts/shards.py): which of a
batch's projects live on its shard, and their plan limits.

With several shards, each shard's workers read the whole topic and apply only the records
of their own projects; the others' offsets are advanced past (their own shard's workers
apply them). The lookup runs once per batch, before the shard's transaction, on a
connection to the control database of its own (the shard's database has no projects).
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from contracts.shards import DEFAULT_SHARD
from stream_workers.settings import Settings

logger = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[AsyncConnection[Any]]]

_PROJECTS = "SELECT id::text, shard, monthly_event_limit FROM projects WHERE id = ANY(%s::uuid[])"


@dataclass(frozen=True, slots=True)
class Scope:
    """What one batch's transaction on one shard applies."""

    mine: frozenset[str]  # the batch's projects that live on this shard
    limits: Mapping[str, int]  # their plan limits (the live ones: a deleted one has none)
    dead_letters: bool  # whether this shard's workers dead-letter unreadable records

    def takes(self, project_id: str | None) -> bool:
        """Whether a record of ``project_id`` (None: unreadable) is this shard's to apply."""
        return self.dead_letters if project_id is None else project_id in self.mine


def scope_of(shard: str, found: Mapping[str, tuple[str, int]], batch: Iterable[str]) -> Scope:
    """The batch's projects that ``shard`` applies, given each known project's (shard,
    limit) in ``found``. A project the control database does not know (deleted, or never
    made) is the default shard's, whose workers drop its records as a deleted project's,
    as one database does; unreadable records are the default shard's to dead-letter, so
    each is dead-lettered once."""
    default = shard == DEFAULT_SHARD
    mine = frozenset(p for p in batch if (found[p][0] == shard if p in found else default))
    limits = {p: found[p][1] for p in mine if p in found}
    return Scope(mine, limits, default)


class Directory:
    """The control database's projects, read for a shard's worker."""

    def __init__(self, shard: str, connect: Connect) -> None:
        self.shard = shard
        self._connect = connect
        self._conn: AsyncConnection[Any] | None = None

    async def scope(self, project_ids: Iterable[str]) -> Scope:
        ids = sorted(set(project_ids))
        found = await self._projects(ids) if ids else {}
        return scope_of(self.shard, found, ids)

    async def limits(self, project_ids: Iterable[str]) -> dict[str, int]:
        """The plan limits of those of ``project_ids`` that live on this shard."""
        return dict((await self.scope(project_ids)).limits)

    async def _projects(self, ids: list[str]) -> dict[str, tuple[str, int]]:
        conn = await self._connection()
        try:
            cursor = await conn.execute(_PROJECTS, (ids,))
            rows = await cursor.fetchall()
        except Exception:
            if conn.closed or conn.broken:
                self._conn = None  # the next batch's try connects again
            raise
        return {str(p): (str(s), int(limit)) for p, s, limit in rows}

    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                await self._conn.close()
            self._conn = await self._connect()
            logger.info("control database connected for shard %s", self.shard)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def directory_for(settings: Settings) -> Directory | None:
    """The worker's directory when there are several shards; None with one database."""
    if not settings.sharded:
        return None

    async def connect() -> AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            settings.control_database_url, autocommit=True, connect_timeout=5
        )

    return Directory(settings.shard, connect)
