"""Thin handlers: the two pages, their static files and the ops JSON."""

from pathlib import Path

from aiohttp import web

from contracts.sessions import SESSION_COOKIE
from dashboard.auth import operator
from dashboard.keys import OPS, POOL, REDIS, SETTINGS

STATIC = Path(__file__).parent / "static"
# The pages are static; the data comes from the APIs, so a page may be cached briefly.
_NO_STORE = {"Cache-Control": "no-cache"}


async def dashboard_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=_NO_STORE)


async def ops_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "ops.html", headers=_NO_STORE)


async def to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.app.router["dashboard"].url_for())


async def ops(request: web.Request) -> web.Response:
    app = request.app
    await operator(
        app[REDIS],
        app[POOL],
        app[SETTINGS].redis_prefix,
        request.cookies.get(SESSION_COOKIE),
        request.headers.get("Authorization"),
    )
    return web.json_response(await app[OPS].snapshot(), headers={"Cache-Control": "no-store"})
