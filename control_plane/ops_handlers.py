"""Readiness, Prometheus metrics and the OpenAPI document of the control plane."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.database import database_answers
from common.health import readiness
from control_plane.app_keys import METRICS, POOL, REDIS, SHARD_POOLS, SPEC


async def ready(request: web.Request) -> web.Response:
    app = request.app
    probes = {"redis": app[REDIS].ping(), "database": database_answers(app[POOL])}
    return await readiness(probes, app[SHARD_POOLS])


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[SPEC])
