"""Who is calling (session cookie or CLI bearer token) and which project they may read.

Sessions are the control plane's (Redis, ``contracts.sessions``); bearer tokens are rows
of ``cli_access_tokens``. A project the caller is not a member of and a project that does
not exist get the same 403.
"""

import uuid

from psycopg import AsyncConnection
from redis.asyncio import Redis

from contracts.sessions import (
    BEARER_USER_LOOKUP_SQL,
    bearer_token,
    decode_session,
    session_key,
    token_digest,
)
from query_api.errors import Forbidden, Unauthorized

_MEMBER_PROJECT_SQL = (
    "SELECT p.id::text, p.shard FROM projects p JOIN project_members m ON m.project_id = p.id"
    " WHERE m.user_id = %s::uuid AND (p.slug = %s OR p.id = %s::uuid)"
)


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """A cookie-authenticated request from a browser page of another origin is refused;
    no Origin (curl, the CLI) is fine."""
    return origin is None or origin in allowed


async def bearer_user(conn: AsyncConnection, authorization: str) -> str:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("Invalid access token")
    cursor = await conn.execute(BEARER_USER_LOOKUP_SQL, (token_digest(token),))
    row = await cursor.fetchone()
    if row is None:
        raise Unauthorized("Invalid access token")
    return str(row[0])


async def session_user(redis: Redis, prefix: str, session_id: str | None) -> str:
    if not session_id:
        raise Unauthorized()
    session = decode_session(await redis.get(session_key(prefix, session_id)))
    if session is None:
        raise Unauthorized("Session expired or invalid")
    return session.user_id


def as_uuid(ref: str) -> str | None:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        return None


async def member_project(conn: AsyncConnection, user_id: str, ref: str) -> tuple[str, str]:
    """The id and shard (contracts/shards.py) of the project ``ref`` (slug or id) if
    ``user_id`` is a member, else 403."""
    cursor = await conn.execute(_MEMBER_PROJECT_SQL, (user_id, ref, as_uuid(ref)))
    row = await cursor.fetchone()
    if row is None:
        raise Forbidden()
    return str(row[0]), str(row[1])
