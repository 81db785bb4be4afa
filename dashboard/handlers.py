"""Thin handlers: the two pages, their static files and the ops JSON."""

from pathlib import Path

from aiohttp import web

from dashboard.app_keys import OPS, POOL, SHARD_POOLS
from dashboard.auth import Viewer, operator, viewer
from dashboard.usage import read_month_usage

STATIC = Path(__file__).parent / "static"
# The pages are static; the data comes from the APIs, so a page may be cached briefly.
_NO_STORE = {"Cache-Control": "no-cache"}
_FIGURES = {"Cache-Control": "no-store"}


async def dashboard_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=_NO_STORE)


async def ops_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "ops.html", headers=_NO_STORE)


async def to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.app.router["dashboard"].url_for())


async def ops(request: web.Request) -> web.Response:
    """The pipeline's figures: operators only."""
    await operator(request)
    return web.json_response(await request.app[OPS].snapshot(), headers=_FIGURES)


async def ops_projects(request: web.Request) -> web.Response:
    """This month's usage per project: every project for an operator, a member's own
    projects for anyone else logged in."""
    app = request.app
    caller: Viewer = await viewer(request)
    async with app[POOL].connection() as conn:
        usage = await read_month_usage(
            conn, None if caller.operator else caller.user_id, app[SHARD_POOLS]
        )
    body = usage.body("all" if caller.operator else "member")
    return web.json_response(body, headers=_FIGURES)
