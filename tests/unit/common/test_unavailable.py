"""Which errors are the dependencies' (a 503 with a code) and which are bugs (a 500)."""

import psycopg
import pytest
import redis.exceptions
from psycopg_pool import PoolTimeout, TooManyRequests

from common.redis import create_redis
from common.unavailable import unavailable_code, unavailable_response


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PoolTimeout("no connection in 5 s"), "DATABASE_BUSY"),
        (TooManyRequests("queue full"), "DATABASE_BUSY"),
        (psycopg.OperationalError("server closed the connection"), "DATABASE_UNAVAILABLE"),
        (redis.exceptions.ConnectionError("No connection available."), "REDIS_UNAVAILABLE"),
        (redis.exceptions.MaxConnectionsError("Too many connections"), "REDIS_UNAVAILABLE"),
        (redis.exceptions.TimeoutError("Timeout reading"), "REDIS_UNAVAILABLE"),
    ],
)
def test_dependency_errors_are_503_codes(error: Exception, code: str) -> None:
    assert unavailable_code(error) == code


@pytest.mark.parametrize("error", [KeyError("x"), ValueError(), psycopg.ProgrammingError()])
def test_bugs_stay_bugs(error: Exception) -> None:
    assert unavailable_code(error) is None


def test_the_503_body_and_retry_after() -> None:
    response = unavailable_response("DATABASE_BUSY", 0)
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert response.text == '{"error": "Service unavailable", "code": "DATABASE_BUSY"}'


async def test_the_client_waits_for_a_bounded_pool() -> None:
    client = create_redis("redis://127.0.0.1:1/0", max_connections=3, pool_timeout_seconds=0.5)
    pool = client.connection_pool
    assert pool.max_connections == 3
    assert pool.timeout == 0.5  # type: ignore[attr-defined]
    await client.aclose()
