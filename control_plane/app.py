"""The control plane's app factory: routes under ``/api``, middleware, resources.

``create_app`` returns the app the App API origin mounts at ``MOUNT_PREFIX`` (its routes
are relative to it); ``create_standalone_app`` wraps it the same way to run alone.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from common.database import DatabasePool
from common.health import health, standalone
from common.redis import create_redis
from common.request_ids import request_ids
from common.security_headers import API_POLICY, add_security_headers
from common.stores import opened_stores, shard_pools
from control_plane import account_handlers as accounts
from control_plane import cli_token_handlers as cli_tokens
from control_plane import deletion_handlers as deletions
from control_plane import deploy_handlers as deploys
from control_plane import export_handlers as exports
from control_plane import invitation_handlers as invitations
from control_plane import middleware, ops_handlers
from control_plane import project_handlers as projects
from control_plane import recovery_handlers as recovery
from control_plane.app_keys import (
    EXPORTS,
    MAILER,
    METRICS,
    PASSWORDS,
    POOL,
    REDIS,
    RELAY,
    SESSIONS,
    SETTINGS,
    SHARD_POOLS,
    SPEC,
    THROTTLES,
)
from control_plane.mail import Mailer
from control_plane.metrics import Metrics
from control_plane.openapi import build_spec
from control_plane.outbox import OutboxRelay
from control_plane.passwords import Passwords
from control_plane.sessions import SessionStore
from control_plane.settings import Settings
from control_plane.throttle import AccountThrottles, LoginLimits, RequestLimits

logger = logging.getLogger(__name__)

MOUNT_PREFIX = "/api"


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[request_ids, middleware.errors], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[PASSWORDS] = Passwords(settings)
    app[SPEC] = build_spec(MOUNT_PREFIX)
    app[EXPORTS] = asyncio.Semaphore(settings.export_concurrency)
    app.cleanup_ctx.append(_resources)
    if settings.relay_enabled:
        app.cleanup_ctx.append(_relay)
    add_security_headers(app, API_POLICY, hsts=settings.cookie_secure)
    add = app.router
    add.add_post("/auth/signup", accounts.signup)
    add.add_post("/auth/confirm", accounts.confirm)
    add.add_post("/auth/login", accounts.login)
    add.add_post("/auth/logout", accounts.logout)
    add.add_post("/auth/password-reset", recovery.request_reset)
    add.add_post("/auth/password-reset/confirm", recovery.confirm_reset)
    add.add_get("/me", accounts.me)
    add.add_post("/cli/tokens", cli_tokens.create_cli_token)
    add.add_post("/cli/validate", cli_tokens.validate_cli_token)
    add.add_post("/cli/revoke", cli_tokens.revoke_cli_token)
    add.add_post("/projects", projects.create)
    add.add_get("/projects", projects.list_all)
    add.add_get("/projects/{ref}", projects.show)
    add.add_patch("/projects/{ref}", projects.update)
    add.add_post("/projects/{ref}/members", projects.add)
    add.add_delete("/projects/{ref}/members/{user_id}", projects.remove)
    add.add_get("/projects/{ref}/invitations", invitations.list_open)
    add.add_delete("/projects/{ref}/invitations/{invitation_id}", invitations.revoke)
    add.add_post("/invitations/accept", invitations.accept)
    add.add_post("/projects/{ref}/keys/rotate", projects.rotate)
    add.add_post("/projects/{ref}/plan", projects.set_plan)
    add.add_post("/projects/{ref}/deletions", deletions.create)
    add.add_get("/projects/{ref}/deletions/{deletion_id}", deletions.show)
    add.add_get("/projects/{ref}/config", deploys.current)
    add.add_get("/projects/{ref}/configs", deploys.history)
    add.add_get("/projects/{ref}/persons/{distinctId}/events", exports.person_events)
    add.add_get("/projects/{ref}/events/export", exports.export_events)
    add.add_post("/deploy", deploys.deploy)
    add.add_post("/deploy/rollback", deploys.rollback)
    add.add_get("/openapi.json", ops_handlers.openapi)
    add.add_get("/control/health", health)
    add.add_get("/control/ready", ops_handlers.ready)
    add.add_get("/control/metrics", ops_handlers.metrics)
    return app


def create_standalone_app(settings: Settings) -> web.Application:
    return standalone(MOUNT_PREFIX, create_app(settings))


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = create_redis(
        settings.redis_url, settings.redis_max_connections, settings.redis_pool_timeout_seconds
    )
    pools = shard_pools(
        settings,
        lambda url: DatabasePool(
            url, max_size=settings.db_pool_size, timeout=settings.db_pool_timeout_seconds
        ),
        # Other shards' databases serve only raw-event streams: pools as small as their limit.
        lambda url: DatabasePool(url, max_size=settings.export_concurrency),
    )
    async with opened_stores(redis, pools) as stores:
        app[REDIS], app[POOL], app[SHARD_POOLS] = stores.redis, stores.pool, stores.pools
        app[SESSIONS] = SessionStore(redis, settings.redis_prefix, settings.session_ttl_seconds)
        app[THROTTLES] = _throttles(settings, redis)
        app[MAILER] = mailer = Mailer(settings)
        yield
        await mailer.drain()


def _throttles(settings: Settings, redis: Redis) -> AccountThrottles:
    return AccountThrottles(
        redis,
        settings.redis_prefix,
        LoginLimits(
            settings.login_window_seconds,
            settings.login_failures_per_account_address,
            settings.login_failures_per_account,
            settings.login_failures_per_ip,
        ),
        RequestLimits(
            settings.signup_window_seconds, settings.signups_per_address, settings.signups_total
        ),
        RequestLimits(
            settings.reset_window_seconds, settings.resets_per_address, settings.resets_per_email
        ),
    )


async def _relay(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    relay = OutboxRelay(
        settings.database_url,
        settings.kafka_bootstrap,
        settings.control_topic,
        settings.relay_poll_seconds,
        app[METRICS],
    )
    app[RELAY] = relay
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    yield
    relay.stop()
    try:
        await asyncio.wait_for(task, timeout=15)
    except TimeoutError:
        logger.warning("outbox relay did not stop within 15 s; cancelled")
