"""Connections for one request, with the database's refusals as the API's answers.

A statement cancelled by ``statement_timeout`` is a 503 ``QUERY_TIMEOUT``; no connection
free within the pool's wait, or a database that cannot be reached, is a 503 as well
(both with Retry-After). Anything else is a bug and stays a 500.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from psycopg import AsyncConnection, OperationalError
from psycopg.errors import QueryCanceled
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from common.unavailable import unavailable_code
from query_api.errors import QueryTimeout, Unavailable


@asynccontextmanager
async def connection(
    pool: AsyncConnectionPool, wait_seconds: float, retry_after: int
) -> AsyncIterator[AsyncConnection]:
    try:
        async with pool.connection(timeout=wait_seconds) as conn:
            yield conn
    except QueryCanceled:
        raise QueryTimeout(retry_after) from None
    except (PoolTimeout, OperationalError) as exc:
        raise Unavailable(retry_after, unavailable_code(exc) or "DATABASE_UNAVAILABLE") from None


@asynccontextmanager
async def timed_transaction(
    conn: AsyncConnection, statement_timeout_ms: int
) -> AsyncIterator[AsyncConnection]:
    """A transaction whose every statement is cancelled after ``statement_timeout_ms``
    (``SET LOCAL``: the pool's connection keeps its own setting afterwards)."""
    async with conn.transaction():
        await conn.execute(
            "SELECT set_config('statement_timeout', %s, true)", (str(statement_timeout_ms),)
        )
        yield conn


# Raw-event analytics (retention, paths, lifecycle) for their own transaction: their hash
# aggregations and sorts fit in memory, and compiling their expressions costs more than
# it saves (JIT starts above a cost these queries pass at a few hundred thousand rows).
ANALYTICS_SETTINGS: tuple[tuple[str, str], ...] = (
    ("work_mem", "64MB"),
    ("jit", "off"),
    # psycopg prepares a statement run five times; PostgreSQL's generic plan for it then
    # knows neither the range (no partition pruning) nor the start event: paths 3 steps
    # next took 2.2 s at a million events where the custom plan takes 0.9 s.
    ("plan_cache_mode", "force_custom_plan"),
)


async def set_local(conn: AsyncConnection, settings: Sequence[tuple[str, str]]) -> None:
    """``SET LOCAL`` each setting: until the end of the current transaction."""
    for name, value in settings:
        await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
