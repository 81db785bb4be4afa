"""Typed keys for the objects the gateway's app holds."""

from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from ingest_gateway.ingest import Ingestor
from ingest_gateway.metrics import Metrics
from ingest_gateway.producer import EventAppender
from ingest_gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
REDIS = web.AppKey("redis", Redis)
APPENDER = web.AppKey("appender", EventAppender)
INGESTOR = web.AppKey("ingestor", Ingestor)
OPENAPI = web.AppKey("openapi", dict[str, Any])
