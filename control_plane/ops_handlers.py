"""Health, readiness, Prometheus metrics and the OpenAPI document of the control plane."""

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.database import database_answers, shards_answering
from control_plane.keys import METRICS, POOL, REDIS, SHARD_POOLS, SPEC


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    try:
        redis = bool(await request.app[REDIS].ping())
    except Exception:  # any failure means "not ready"; the body says which
        redis = False
    database = await database_answers(request.app[POOL])
    body: dict[str, Any] = {"redis": redis, "database": database}
    pools = request.app[SHARD_POOLS]
    if len(pools) > 1:  # a shard down holds back its own projects, not this service
        body["shards"] = await shards_answering(pools)
    return web.json_response(body, status=200 if redis and database else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[SPEC])
