"""Who is calling, checked the same way by every service: an app session (cookie) or a CLI
bearer token, and whether they are an operator or a member of a project.

Sessions are the control plane's (``contracts.sessions``, in Redis); bearer tokens are rows
of ``cli_access_tokens``; operators are rows of ``operators`` (granted only from the
server's command line, ``python -m control_plane operators grant EMAIL``). Each service
turns ``Unauthenticated`` into its own 401 body.
"""

from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from contracts.sessions import bearer_token, decode_session, session_key, token_digest

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_BEARER_USER_SQL = (
    "SELECT u.id::text, u.email FROM cli_access_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = %s AND t.revoked_at IS NULL"
)
_OPERATOR_SQL = "SELECT 1 FROM operators WHERE user_id = %s::uuid"
_MEMBER_PROJECTS_SQL = "SELECT project_id::text FROM project_members WHERE user_id = %s::uuid"


class Unauthenticated(Exception):
    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    email: str
    via: str  # "session" or "bearer"


def origin_allowed(method: str, origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a cookie-authenticated request may go ahead: reads always, writes only with
    an ``Origin`` naming the App API (browsers send cookies on cross-site requests too)."""
    if method.upper() in SAFE_METHODS:
        return True
    return origin is not None and origin in allowed


async def bearer_caller(conn: AsyncConnection, authorization: str) -> Caller:
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


async def identify(
    redis: Redis,
    pool: AsyncConnectionPool,
    prefix: str,
    session_id: str | None,
    authorization: str | None,
) -> Caller:
    """The caller: a bearer token when an ``Authorization`` header is sent (a bad one is
    refused, never ignored in favour of a cookie), else the session cookie."""
    if authorization is not None:
        async with pool.connection() as conn:
            return await bearer_caller(conn, authorization)
    return await session_caller(redis, prefix, session_id)


async def is_operator(conn: AsyncConnection, user_id: str) -> bool:
    cursor = await conn.execute(_OPERATOR_SQL, (user_id,))
    return await cursor.fetchone() is not None


async def member_project_ids(conn: AsyncConnection, user_id: str) -> set[str]:
    cursor = await conn.execute(_MEMBER_PROJECTS_SQL, (user_id,))
    return {str(row[0]) for row in await cursor.fetchall()}
