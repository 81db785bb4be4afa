"""The dashboard's app factory: the pages, their static files and the ops JSON.

The App API origin mounts it at ``MOUNT_PREFIX`` (aiohttp refuses an empty sub-app
prefix, so it cannot sit at ``/``): ``/dashboard/`` the charts, ``/dashboard/ops`` the ops
view, ``/dashboard/api/ops`` the pipeline's figures (operators only),
``/dashboard/api/ops/projects`` this month's usage per project (a member's own projects,
every project for an operator), ``/dashboard/static/…`` the assets. The pages talk to the
control plane (``/api/…``) and the query API (``/api/query``) on the same origin, so the
session cookie is the control plane's.
"""

from collections.abc import AsyncIterator

from aiohttp import web

from common.database import DatabasePool
from common.health import standalone
from common.redis import create_redis
from common.request_ids import request_ids
from common.security_headers import PAGE_POLICY, add_security_headers
from common.stores import opened_stores, shard_pools
from dashboard import handlers
from dashboard.app_keys import OPS, POOL, REDIS, SETTINGS, SHARD_POOLS
from dashboard.errors import errors
from dashboard.ops import OpsView
from dashboard.settings import Settings

MOUNT_PREFIX = "/dashboard"


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[request_ids, errors])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    add_security_headers(app, PAGE_POLICY)
    app.router.add_get("", handlers.to_dashboard)
    app.router.add_get("/", handlers.dashboard_page, name="dashboard")
    app.router.add_get("/ops", handlers.ops_page)
    app.router.add_get("/api/ops", handlers.ops)
    app.router.add_get("/api/ops/projects", handlers.ops_projects)
    app.router.add_static("/static", handlers.STATIC, name="static")
    return app


def create_standalone_app(settings: Settings) -> web.Application:
    return standalone(MOUNT_PREFIX, create_app(settings))


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]

    def database_pool(url: str) -> DatabasePool:
        return DatabasePool(
            url, max_size=2, timeout=settings.db_pool_timeout_seconds, kwargs={"autocommit": True}
        )

    # Each further shard's database (contracts/shards.py): its workers' offsets and usage.
    pools = shard_pools(settings, database_pool)
    async with opened_stores(create_redis(settings.redis_url), pools) as stores:
        app[REDIS], app[POOL], app[SHARD_POOLS] = stores.redis, stores.pool, stores.pools
        app[OPS] = OpsView(settings, stores.pools, stores.redis)
        yield
