"""``GET /health`` and ``GET /ready`` for every service. Health says the process answers
(``{"status": "ok"}``, also at the root of a service run alone); readiness is 200 when
each dependency the service cannot serve without answers, else 503, with a body naming
each so that an operator sees which one is down.

A load balancer takes a process out of rotation on 503, so only what every request needs
belongs among the ``probes``; further shards' databases are reported under ``shards``
but do not count (a shard that is down holds back its own projects, not the others').
"""

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from common.database import shards_answering


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def standalone(prefix: str, app: web.Application) -> web.Application:
    """A service's app run on its own (``python -m <service>``): mounted at the prefix the
    App API gives it, so its paths are the same either way, under a root answering
    ``/health``."""
    root = web.Application()
    root.router.add_get("/health", health)
    root.add_subapp(prefix, app)
    return root


# A dependency's check: true (or truthy, as Redis' PING) when it answers. The clients' own
# timeouts bound the wait (``common.redis``, ``common.database.database_answers``).
Probe = Awaitable[Any]


async def answered(probe: Probe) -> bool:
    try:
        return bool(await probe)
    except Exception:  # any failure means "not answering"; the body says which
        return False


async def readiness(
    probes: Mapping[str, Probe],
    shards: Mapping[str, AsyncConnectionPool[Any]] | None = None,
) -> web.Response:
    """Run the probes together; ``{name: answered, …}`` (and ``shards`` when there are
    several), 200 only if every probe answered."""
    names = list(probes)
    answers = await asyncio.gather(*(answered(probes[name]) for name in names))
    body: dict[str, Any] = dict(zip(names, answers, strict=True))
    if shards is not None and len(shards) > 1:
        body["shards"] = await shards_answering(shards)
    return web.json_response(body, status=200 if all(answers) else 503)
