"""The services' pool against a database that cannot be reached: refused quickly, with
the code that says so, never the "busy" of a full pool. (Coming through a real restart is
tested against the real server: tests/integration/control_plane/test_postgres_restart.py.)"""

import socket
import time

import pytest
from psycopg_pool import PoolTimeout

from common.database import DOWN_WAIT_SECONDS, DatabasePool, DatabaseUnreachable
from common.unavailable import unavailable_code


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable_pool() -> DatabasePool:
    url = f"postgresql://nobody@127.0.0.1:{closed_port()}/none?connect_timeout=1"
    return DatabasePool(url, max_size=2, timeout=10)


async def test_a_database_that_refuses_connections_is_unreachable_within_the_short_wait() -> None:
    pool = unreachable_pool()
    await pool.open(wait=False)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable) as refused:
            async with pool.connection():
                pass
        # Not the pool's 10 s: the first wait is short, and by its end the pool knows.
        assert time.monotonic() - started < DOWN_WAIT_SECONDS + 1
        assert pool.reachability.down
        assert unavailable_code(refused.value) == "DATABASE_UNAVAILABLE"
        # Still a PoolTimeout, for code that catches psycopg_pool's own.
        assert isinstance(refused.value, PoolTimeout)
    finally:
        await pool.close()


async def test_a_shorter_wait_asked_for_is_kept() -> None:
    pool = unreachable_pool()
    await pool.open(wait=False)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable):
            await pool.getconn(timeout=0.3)
        assert time.monotonic() - started < 1.0
    finally:
        await pool.close()


def test_a_full_pool_stays_busy() -> None:
    assert unavailable_code(PoolTimeout("no connection in 5 s")) == "DATABASE_BUSY"
    assert unavailable_code(DatabaseUnreachable("no connection in 1.5 s")) == (
        "DATABASE_UNAVAILABLE"
    )
