"""Who is calling the ops JSON: an app session (cookie) or a CLI bearer token.

Both are the control plane's, checked through ``contracts.sessions`` as the query API
does. Any signed-in user may read the ops view: it holds offsets and counts, no events.
"""

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from contracts.sessions import (
    BEARER_USER_LOOKUP_SQL,
    bearer_token,
    decode_session,
    session_key,
    token_digest,
)
from dashboard.errors import Unauthorized


async def caller(
    redis: Redis,
    pool: AsyncConnectionPool,
    prefix: str,
    session_id: str | None,
    authorization: str | None,
) -> str:
    """The user id, or ``Unauthorized``."""
    if authorization is not None:
        token = bearer_token(authorization)
        if token is None:
            raise Unauthorized("Invalid access token")
        async with pool.connection() as conn:
            cursor = await conn.execute(BEARER_USER_LOOKUP_SQL, (token_digest(token),))
            row = await cursor.fetchone()
        if row is None:
            raise Unauthorized("Invalid access token")
        return str(row[0])
    if not session_id:
        raise Unauthorized("Authentication required")
    session = decode_session(await redis.get(session_key(prefix, session_id)))
    if session is None:
        raise Unauthorized("Session expired or invalid")
    return session.user_id
