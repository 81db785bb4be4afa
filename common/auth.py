"""Who is calling, checked the same way by every App API service: an app session (cookie)
or a CLI bearer token, the one Origin rule against cross-site requests, and whether the
caller is an operator.

Sessions are the control plane's (``contracts.sessions``, in Redis); bearer tokens are rows
of ``cli_access_tokens``; operators are rows of ``operators`` (granted only from the
server's command line, ``python -m control_plane operators grant EMAIL``). A refusal is a
``Refused`` (401 ``Unauthenticated``, 403 ``ForeignOrigin``), which ``common.errors``
answers as ``{"error": message}`` in every service.

The Origin rule (docs/security.md, "CSRF"): browsers attach the cookie to requests that
pages of other sites make, so a cookie-authenticated request is refused when its
``Origin`` is not one of the App API's own pages, and — where it changes something — also
when it has none (every browser sends ``Origin`` on POST, PUT, PATCH and DELETE, so only
a non-browser client lacks it, and those hold a bearer token). A bearer token is never
attached by a browser on its own, so bearer requests need no Origin at all.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from psycopg import AsyncConnection
from redis.asyncio import Redis

from contracts.sessions import (
    SESSION_COOKIE,
    bearer_token,
    decode_session,
    session_key,
    token_digest,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_BEARER_USER_SQL = (
    "SELECT u.id::text, u.email FROM cli_access_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = %s AND t.revoked_at IS NULL"
)
_OPERATOR_SQL = "SELECT 1 FROM operators WHERE user_id = %s::uuid"

# A connection for one short statement, as the service hands them out (its pool's
# ``connection``, or one that turns a busy pool into the service's own 503).
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]]


class Refused(Exception):
    """Not let in; ``status`` and ``message`` are the answer, ``reason`` its metrics label."""

    status = 401
    reason = "unauthenticated"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(Refused):
    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message)


class ForeignOrigin(Refused):
    status = 403
    reason = "forbidden"

    def __init__(self) -> None:
        super().__init__("Origin not allowed")


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    email: str
    via: str  # "session" or "bearer"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request carries to say who sent it, and from which page."""

    session_id: str | None
    authorization: str | None
    origin: str | None
    changes_state: bool

    @classmethod
    def of(cls, request: web.Request, *, changes_state: bool | None = None) -> "Credentials":
        """The request's; ``changes_state`` by its method unless the route knows better
        (a query is sent by POST and changes nothing)."""
        if changes_state is None:
            changes_state = request.method.upper() not in SAFE_METHODS
        return cls(
            request.cookies.get(SESSION_COOKIE),
            request.headers.get("Authorization"),
            request.headers.get("Origin"),
            changes_state,
        )


def origin_allowed(origin: str | None, allowed: tuple[str, ...], *, required: bool) -> bool:
    """The Origin rule for a request a browser may send with ambient credentials (the
    cookie; also sign-up and login, which set it): an ``Origin`` must be one of
    ``allowed``; none is accepted unless ``required`` (a cookie request that changes
    something)."""
    if origin is not None:
        return origin in allowed
    return not required


async def bearer_caller(conn: AsyncConnection[Any], authorization: str) -> Caller:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthenticated("Invalid access token")
    cursor = await conn.execute(_BEARER_USER_SQL, (token_digest(token),))
    row = await cursor.fetchone()
    if row is None:
        raise Unauthenticated("Invalid access token")
    return Caller(str(row[0]), str(row[1]), "bearer")


async def session_caller(redis: Redis, prefix: str, session_id: str | None) -> Caller:
    if not session_id:
        raise Unauthenticated()
    session = decode_session(await redis.get(session_key(prefix, session_id)))
    if session is None:
        raise Unauthenticated("Session expired or invalid")
    return Caller(session.user_id, session.email, "session")


async def authenticate(
    credentials: Credentials,
    *,
    redis: Redis,
    prefix: str,
    connect: Connect,
    allowed_origins: tuple[str, ...],
) -> Caller:
    """The caller: a bearer token when an ``Authorization`` header is sent (a bad one is
    refused, never ignored in favour of a cookie), else the session cookie, held to the
    Origin rule."""
    if credentials.authorization is not None:
        async with connect() as conn:
            return await bearer_caller(conn, credentials.authorization)
    caller = await session_caller(redis, prefix, credentials.session_id)
    if not origin_allowed(credentials.origin, allowed_origins, required=credentials.changes_state):
        raise ForeignOrigin()
    return caller


async def is_operator(conn: AsyncConnection[Any], user_id: str) -> bool:
    cursor = await conn.execute(_OPERATOR_SQL, (user_id,))
    return await cursor.fetchone() is not None
