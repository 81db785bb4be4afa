"""Who may read the ops view: an operator, by app session (cookie) or CLI bearer token.

The checks are ``common.auth``'s, the same the control plane runs. The ops view shows every
project's figures and the pipeline's state, so it is for operators (granted on the server:
``python -m control_plane operators grant EMAIL``); a member sees their own projects'
plan and usage in the control plane (``GET /api/projects/{ref}``).
"""

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from common.auth import Unauthenticated, identify, is_operator
from dashboard.errors import Forbidden, Unauthorized

OPERATORS_ONLY = "The ops view is for operators"


async def operator(
    redis: Redis,
    pool: AsyncConnectionPool,
    prefix: str,
    session_id: str | None,
    authorization: str | None,
) -> str:
    """The operator's user id; ``Unauthorized`` without credentials, ``Forbidden`` for
    anyone else."""
    try:
        caller = await identify(redis, pool, prefix, session_id, authorization)
    except Unauthenticated as exc:
        raise Unauthorized(exc.message) from exc
    async with pool.connection() as conn:
        if not await is_operator(conn, caller.user_id):
            raise Forbidden(OPERATORS_ONLY)
    return caller.user_id
