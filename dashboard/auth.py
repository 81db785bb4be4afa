"""Who may read what of the ops view, by app session (cookie) or CLI bearer token.

The checks are ``common.auth``'s, the same the control plane and the query API run, the
one Origin rule included (the dashboard's routes only read). The pipeline's figures (lag,
partitions, the servers' state) and every project's usage are for operators (granted
on the server: ``python -m control_plane operators grant EMAIL``); any other logged-in
user is a member, who reads the usage of the projects they belong to (``dashboard.usage``).
"""

from dataclasses import dataclass

from aiohttp import web

from common.auth import Credentials, authenticate, is_operator
from dashboard.app_keys import POOL, REDIS, SETTINGS
from dashboard.errors import Forbidden

OPERATORS_ONLY = "The ops view is for operators"


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    operator: bool


async def viewer(request: web.Request) -> Viewer:
    """The logged-in caller and whether they are an operator; 401 without valid
    credentials."""
    app, settings = request.app, request.app[SETTINGS]
    caller = await authenticate(
        Credentials.of(request),
        redis=app[REDIS],
        prefix=settings.redis_prefix,
        connect=app[POOL].connection,
        allowed_origins=settings.app_origins,
    )
    async with app[POOL].connection() as conn:
        return Viewer(caller.user_id, await is_operator(conn, caller.user_id))


async def operator(request: web.Request) -> str:
    """The operator's user id; 401 without credentials, 403 for anyone else."""
    caller = await viewer(request)
    if not caller.operator:
        raise Forbidden(OPERATORS_ONLY)
    return caller.user_id
