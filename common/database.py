"""The services' PostgreSQL pool: one that comes through a database restart by itself, and
says "unavailable" (not "busy") while the database cannot be reached.

A restart kills every connection a pool holds, and psycopg_pool hands out idle ones
unchecked: without more, the first requests after PostgreSQL is back fail on dead
connections. So this pool

- checks each connection before handing it out, and once one fails its check throws
  away every idle one (they died together); otherwise a request steps through them one
  by one, with psycopg_pool's backoff (0, 1, 2, 4 s...) between checks, past its wait;
- gives up a background reconnection after ``RECONNECT_SECONDS`` (psycopg_pool's default
  keeps trying for 5 minutes with a doubling delay, so the database could be back for
  half a minute before the next try): the next request that finds no connection starts
  a new one at once;
- remembers whether its last attempt to connect failed; while it did, a request waits at
  most ``DOWN_WAIT_SECONDS`` (not the full pool wait) and is refused with
  ``DatabaseUnreachable``, which ``common.unavailable`` answers as a 503
  ``DATABASE_UNAVAILABLE`` rather than the ``DATABASE_BUSY`` of a pool that is merely
  full. (A request that waits longer than that for a busy pool goes back to the end of
  the queue once: overload costs it some order, never its answer.)
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from contracts.shards import DEFAULT_SHARD

RECONNECT_SECONDS = 2.0
# Above psycopg_pool's first reconnection delay (1 s, ±10 %), so that a request arriving
# just as the database returns finds the connection the next attempt opens.
DOWN_WAIT_SECONDS = 1.5

Configure = Callable[[AsyncConnection[Any]], Awaitable[None]]


class DatabaseUnreachable(PoolTimeout):
    """No connection in time, and the pool's last attempt to open one failed."""


class Reachability:
    """Whether the last attempt to open a connection failed (set by ``tracked``)."""

    def __init__(self) -> None:
        self.down = False


def tracked(reachability: Reachability) -> type[AsyncConnection[Any]]:
    """A connection class whose ``connect`` records its outcome in ``reachability`` (the
    pool's public hook for how connections are opened; psycopg_pool has no callback for a
    failed attempt until it gives up)."""

    class TrackedConnection(AsyncConnection[Any]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            try:
                conn = await super().connect(conninfo, **kwargs)
            except Exception:
                reachability.down = True
                raise
            reachability.down = False
            return conn

    return TrackedConnection


class DatabasePool(AsyncConnectionPool[AsyncConnection[Any]]):
    """An ``AsyncConnectionPool`` (created closed: ``await pool.open()``), as above."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int,
        timeout: float = 30.0,
        kwargs: dict[str, Any] | None = None,
        configure: Configure | None = None,
    ) -> None:
        self.reachability = Reachability()
        super().__init__(
            conninfo,
            connection_class=tracked(self.reachability),
            kwargs=kwargs,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            configure=configure,
            check=self._check_or_drain,
            reconnect_timeout=RECONNECT_SECONDS,
            open=False,
        )

    async def _check_or_drain(self, conn: AsyncConnection[Any]) -> None:
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            await self.drain()  # the idle ones died with this one: replace them all now
            raise

    # psycopg_pool's own signature, which ``connection()`` calls: it cannot change.
    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:  # noqa: ASYNC109
        """A connection within ``timeout`` (the pool's by default), asked for in two goes:
        the first ``DOWN_WAIT_SECONDS``, then (only if the database is not known to be
        down by then) the rest. The first request after the database went away is the one
        that finds its dead connections; it learns that new ones cannot be opened only
        while it waits, and should not wait out the whole timeout to say so."""
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        try:
            try:
                return await super().getconn(min(wait, DOWN_WAIT_SECONDS))
            except PoolTimeout:
                rest = deadline - time.monotonic()
                if self.reachability.down or rest <= 0:
                    raise
            return await super().getconn(rest)
        except PoolTimeout as exc:
            if self.reachability.down:
                raise DatabaseUnreachable(str(exc)) from None
            raise


READY_TIMEOUT_SECONDS = 2.0


async def database_answers(pool: AsyncConnectionPool[Any]) -> bool:
    """Whether the pool's database answers a ``SELECT 1`` within ``READY_TIMEOUT_SECONDS``
    (readiness)."""
    try:
        async with pool.connection(timeout=READY_TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
    except Exception:  # any failure means "not answering"; the caller's body says which
        return False
    return True


async def shards_answering(pools: Mapping[str, AsyncConnectionPool[Any]]) -> dict[str, bool]:
    """Each further shard's database answering (contracts/shards.py), for a readiness body.
    Informative only: a shard that is down holds back its own projects, so it must not take
    a whole service out of its load balancer (every other project would go with it)."""
    return {
        name: await database_answers(pool) for name, pool in pools.items() if name != DEFAULT_SHARD
    }
