"""The query API's app factory: ``POST /api/query`` and its OpenAPI document.

``create_app`` returns the app the App API origin mounts at ``MOUNT_PREFIX`` (routes are
relative to it); ``create_standalone_app`` wraps it the same way to run alone (port 8082).
"""

from collections.abc import AsyncIterator

from aiohttp import web
from psycopg import AsyncConnection

from common.database import DatabasePool
from common.health import health, standalone
from common.redis import create_redis
from common.request_ids import request_ids
from common.stores import opened_stores, shard_pools
from query_api import handlers, middleware
from query_api.admission import Limits, ProjectLimiter
from query_api.app_keys import LIMITER, METRICS, POOL, REDIS, SETTINGS, SHARD_POOLS, SPEC
from query_api.metrics import Metrics
from query_api.openapi import build_spec
from query_api.settings import Settings

MOUNT_PREFIX = "/api/query"


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[request_ids, middleware.errors], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[SPEC] = build_spec(MOUNT_PREFIX)
    app[LIMITER] = ProjectLimiter(
        Limits(
            settings.project_concurrency,
            settings.project_queue,
            settings.project_queue_wait_seconds,
            settings.retry_after_seconds,
        )
    )
    app.cleanup_ctx.append(_resources)
    app.router.add_post("", handlers.query)
    app.router.add_get("/openapi.json", handlers.openapi)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", handlers.ready)
    app.router.add_get("/metrics", handlers.metrics)
    return app


def create_standalone_app(settings: Settings) -> web.Application:
    return standalone(MOUNT_PREFIX, create_app(settings))


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    timeout = str(settings.statement_timeout_ms)

    async def configure(conn: AsyncConnection) -> None:
        await conn.execute("SELECT set_config('statement_timeout', %s, false)", (timeout,))

    def database_pool(url: str) -> DatabasePool:
        return DatabasePool(
            url, max_size=settings.db_pool_size, kwargs={"autocommit": True}, configure=configure
        )

    pools = shard_pools(settings, database_pool)
    async with opened_stores(create_redis(settings.redis_url), pools) as stores:
        app[REDIS], app[POOL], app[SHARD_POOLS] = stores.redis, stores.pool, stores.pools
        yield
