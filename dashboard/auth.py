"""Who may read what of the ops view, by app session (cookie) or CLI bearer token.

The checks are ``common.auth``'s, the same the control plane runs. The pipeline's figures
(lag, partitions, the servers' state) and every project's usage are for operators (granted
on the server: ``python -m control_plane operators grant EMAIL``); any other logged-in
user is a member, who reads the usage of the projects they belong to (``dashboard.usage``).
"""

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from common.auth import Unauthenticated, identify, is_operator
from dashboard.errors import Forbidden, Unauthorized

OPERATORS_ONLY = "The ops view is for operators"


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    operator: bool


async def viewer(
    redis: Redis,
    pool: AsyncConnectionPool,
    prefix: str,
    session_id: str | None,
    authorization: str | None,
) -> Viewer:
    """The logged-in caller and whether they are an operator; ``Unauthorized`` without
    valid credentials."""
    try:
        caller = await identify(redis, pool, prefix, session_id, authorization)
    except Unauthenticated as exc:
        raise Unauthorized(exc.message) from exc
    async with pool.connection() as conn:
        return Viewer(caller.user_id, await is_operator(conn, caller.user_id))


async def operator(
    redis: Redis,
    pool: AsyncConnectionPool,
    prefix: str,
    session_id: str | None,
    authorization: str | None,
) -> str:
    """The operator's user id; ``Unauthorized`` without credentials, ``Forbidden`` for
    anyone else."""
    caller = await viewer(redis, pool, prefix, session_id, authorization)
    if not caller.operator:
        raise Forbidden(OPERATORS_ONLY)
    return caller.user_id
