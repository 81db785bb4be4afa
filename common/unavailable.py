"""Overload and outages as the contract's 503 ``{"error": "Service unavailable", "code"}``
with Retry-After, never a 500: a pool with no free connection in time, Redis or
PostgreSQL out of reach. The services' error middlewares ask ``unavailable_code``."""

import psycopg
import redis.exceptions
from aiohttp import web
from psycopg_pool import PoolTimeout, TooManyRequests

from common.database import DatabaseUnreachable

RETRY_AFTER_SECONDS = 2


def unavailable_code(exc: BaseException) -> str | None:
    """The 503's ``code`` for an error of a shared dependency, else ``None`` (a bug)."""
    if isinstance(exc, DatabaseUnreachable):
        return "DATABASE_UNAVAILABLE"  # no connection, and the last try to open one failed
    if isinstance(exc, PoolTimeout | TooManyRequests):
        return "DATABASE_BUSY"  # every connection of the pool in use for the whole wait
    if isinstance(exc, psycopg.OperationalError):
        return "DATABASE_UNAVAILABLE"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "REDIS_UNAVAILABLE"  # also: no pooled connection free in time
    return None


def unavailable_response(code: str, retry_after: int = RETRY_AFTER_SECONDS) -> web.Response:
    return web.json_response(
        {"error": "Service unavailable", "code": code},
        status=503,
        headers={"Retry-After": str(max(1, retry_after))},
    )
