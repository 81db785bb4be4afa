"""Typed keys for the objects the control plane's app holds."""

import asyncio

from aiohttp import web
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from control_plane.mail import Mailer
from control_plane.metrics import Metrics
from control_plane.outbox import OutboxRelay
from control_plane.passwords import Passwords
from control_plane.sessions import SessionStore
from control_plane.settings import Settings
from control_plane.throttle import AccountThrottles

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
PASSWORDS = web.AppKey("passwords", Passwords)
REDIS = web.AppKey("redis", Redis)
POOL = web.AppKey("pool", AsyncConnectionPool)
# Each shard's pool by name (contracts/shards.py), the default shard's being ``POOL``.
SHARD_POOLS = web.AppKey("shard_pools", dict)
# Streams of raw events (access requests, exports) running at once.
EXPORTS = web.AppKey("exports", asyncio.Semaphore)
SESSIONS = web.AppKey("sessions", SessionStore)
THROTTLES = web.AppKey("throttles", AccountThrottles)
MAILER = web.AppKey("mailer", Mailer)
RELAY = web.AppKey("relay", OutboxRelay)
# The OpenAPI document, built once at start-up.
SPEC = web.AppKey("spec", dict)
