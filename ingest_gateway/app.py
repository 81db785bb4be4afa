"""The gateway's app factory: routes, middlewares and the resources' start-up/tear-down."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from common.database import DatabasePool
from common.health import health
from common.redis import MAX_CONNECTIONS, create_redis
from common.request_ids import request_ids
from common.stores import Stores, opened_stores, shard_pools
from contracts.lanes import Lane
from ingest_gateway import handlers, middleware
from ingest_gateway.admission import Admitter
from ingest_gateway.app_keys import APPENDER, INGESTOR, METRICS, OPENAPI, REDIS, SETTINGS
from ingest_gateway.cache import TtlCache
from ingest_gateway.configs import ConfigWatcher
from ingest_gateway.dropin.formats import FORMATS
from ingest_gateway.dropin.handler import add_routes
from ingest_gateway.ingest import Ingestor
from ingest_gateway.metrics import Metrics
from ingest_gateway.openapi import build_spec
from ingest_gateway.producer import EventAppender
from ingest_gateway.projects import ProjectDirectory
from ingest_gateway.quota import QuotaReserver
from ingest_gateway.ratelimit import RateLimiter
from ingest_gateway.rules import ProjectRules
from ingest_gateway.settings import Settings
from ingest_gateway.usage_rebuild import UsageRebuilder


def create_app(settings: Settings) -> web.Application:
    # middlewares run outside-in: the request id and CORS headers go on error answers too.
    app = web.Application(
        middlewares=[request_ids, middleware.cors, middleware.errors],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[OPENAPI] = build_spec()
    app.cleanup_ctx.append(_resources)
    app.router.add_post("/", handlers.ingest)
    app.router.add_route("OPTIONS", "/", handlers.preflight)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", handlers.ready)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_get("/openapi.json", handlers.openapi)
    add_routes(app, FORMATS)  # Segment's, PostHog's and Mixpanel's tracking calls
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    timeout = settings.redis_timeout_seconds
    redis = create_redis(settings.redis_url, MAX_CONNECTIONS, timeout, timeout)
    pools = shard_pools(
        settings,
        # Through a database restart by itself; while it is down, a key not cached is
        # refused (503) within 1.5 s instead of waiting out psycopg_pool's 30 s.
        lambda url: DatabasePool(url, max_size=4),
        # Other shards' databases (contracts/shards.py) are read only to rebuild usage.
        lambda url: DatabasePool(url, min_size=0, max_size=2),
    )
    async with opened_stores(redis, pools) as stores:
        app[REDIS] = redis
        async with _appending(app, stores):
            yield


@asynccontextmanager
async def _appending(app: web.Application, stores: Stores) -> AsyncIterator[None]:
    """The Kafka producer, the config watcher and the ingestor that uses them."""
    settings, metrics, redis = app[SETTINGS], app[METRICS], stores.redis
    appender = EventAppender(
        settings.kafka_bootstrap,
        settings.events_topic,
        settings.append_timeout_seconds,
        settings.producer_linger_ms,
        on_replace=lambda reason: metrics.producer_replacements.labels(reason).inc(),
    )
    await appender.start()
    rules = ProjectRules()
    watcher = ConfigWatcher(settings.kafka_bootstrap, settings.control_topic, rules)
    await watcher.start()
    app[APPENDER] = appender
    app[INGESTOR] = Ingestor(
        projects=ProjectDirectory(stores.pool, TtlCache(settings.key_cache_ttl_seconds)),
        admitter=Admitter(
            redis,
            settings.redis_prefix,
            settings.rate_window_seconds,
            settings.overflow_events_per_second,
            settings.overflow_sticky_seconds,
            on_round_trip=metrics.admission_batch.observe,
        ),
        limiter=RateLimiter(redis, settings.redis_prefix, settings.rate_window_seconds),
        quota=QuotaReserver(redis, settings.redis_prefix),
        appender=appender,
        metrics=metrics,
        rules=rules,
        usage=UsageRebuilder(stores.pools, redis, settings.redis_prefix),
        redis_timeout=settings.redis_timeout_seconds,
        retry_after_unavailable=settings.retry_after_unavailable_seconds,
        rate_limit_override=settings.rate_limit_override,
        topics={lane: settings.topic_of(lane) for lane in Lane},
    )
    yield
    await watcher.stop()
    await appender.stop()
