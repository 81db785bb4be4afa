"""Health, readiness, Prometheus metrics and the OpenAPI document of the control plane."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_plane.keys import METRICS, POOL, REDIS, SPEC


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    try:
        redis = bool(await request.app[REDIS].ping())
    except Exception:  # any failure means "not ready"; the body says which
        redis = False
    try:
        async with request.app[POOL].connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
        database = True
    except Exception:
        database = False
    status = 200 if redis and database else 503
    return web.json_response({"redis": redis, "database": database}, status=status)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[SPEC])
