"""Typed keys for the objects the query API's app holds."""

from aiohttp import web
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from query_api.admission import ProjectLimiter
from query_api.metrics import Metrics
from query_api.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
REDIS = web.AppKey("redis", Redis)
POOL = web.AppKey("pool", AsyncConnectionPool)  # the control database's (and default shard's)
# Each shard's pool by name (contracts/shards.py), the default shard's being ``POOL``.
SHARD_POOLS = web.AppKey("shard_pools", dict)
SPEC = web.AppKey("openapi", dict)
LIMITER = web.AppKey("limiter", ProjectLimiter)
# The project a request was admitted for, once known (the refusals counter's label).
PROJECT = web.RequestKey("project", str)
