"""Typed keys for the objects the dashboard's app holds."""

from aiohttp import web
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from dashboard.ops import OpsView
from dashboard.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", AsyncConnectionPool)
# Each shard's pool by name (contracts/shards.py), the default shard's being ``POOL``.
SHARD_POOLS = web.AppKey("shard_pools", dict)
REDIS = web.AppKey("redis", Redis)
OPS = web.AppKey("ops", OpsView)
