"""Every refusal is counted in /metrics by reason, and by project once the key resolved."""

import gzip
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import redis
from aiohttp.test_utils import TestClient

from contracts.control import ConfigDeployed
from contracts.usage import month_of, usage_key
from control_plane.projects import CreatedProject
from ingest_gateway.app_keys import APPENDER
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import deploy, eventually, start_gateway
from tests.integration.ingest_gateway.rawhttp import raw_post
from tests.integration.ingest_gateway.test_ingest import event, post

pytestmark = pytest.mark.integration


async def refusals(gateway: TestClient) -> dict[tuple[str, str], float]:
    text = await (await gateway.get("/metrics")).text()
    counted: dict[tuple[str, str], float] = {}
    for labels, value in re.findall(r"^ingest_refused_total\{(.*)\} (\S+)$", text, re.M):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        counted[(pairs["reason"], pairs["project"])] = float(value)
    return counted


async def test_each_refusal_is_counted_by_reason_and_project(
    settings_with: Callable[..., Settings],
    project: CreatedProject,
    services: Any,
    control_topic: str,
    redis_prefix: str,
) -> None:
    gateway = await start_gateway(settings_with(control_topic=control_topic, max_body_bytes=4096))
    key, slug = project.public_key, project.slug
    try:
        assert (await post(gateway, event(1), "pk_live_nope"))[0] == 401
        assert (await post(gateway, b"[{", key))[0] == 400
        assert (await post(gateway, event(2, event=""), key))[0] == 400
        big = event(3, properties={"blob": "x" * 5000})
        assert (await post(gateway, big, key))[0] == 413
        assert (await post(gateway, b"x", key, headers={"Content-Encoding": "br"}))[0] == 415
        corrupt = gzip.compress(orjson.dumps(event(4)))[:-8]
        assert (await post(gateway, corrupt, key, headers={"Content-Encoding": "gzip"}))[0] == 400
        host, port = str(gateway.server.host), int(gateway.port or 0)
        bad_key = [(b"X-API-Key", b"pk_\xff")]
        assert (await raw_post(host, port, bad_key, orjson.dumps(event(5))))[0] == 400

        config = {
            "allowedOrigins": ["https://shop.example"],
            "trackingPlan": {"mode": "strict", "events": {"page_viewed": {}}},
        }
        await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 1, config))
        evil = {"Origin": "https://evil.example"}

        async def origin_refused() -> bool:
            return (await post(gateway, event(6), key, headers=dict(evil)))[0] == 403

        assert await eventually(origin_refused)
        assert (await post(gateway, event(7, event="unplanned"), key))[0] == 400

        usage = usage_key(redis_prefix, project.id, month_of(datetime.now(UTC)))
        redis.Redis.from_url(services.redis_url).hset(usage, mapping={"p0": 10_000})
        assert (await post(gateway, event(8), key))[0] == 429
        redis.Redis.from_url(services.redis_url).delete(usage)

        await gateway.app[APPENDER].stop()  # Kafka out of reach: appends cannot be acked
        assert (await post(gateway, event(9), key))[0] == 503

        counted = await refusals(gateway)
        assert counted[("invalid_key", "")] == 1
        assert counted[("malformed", slug)] == 1
        assert counted[("validation", slug)] == 1
        assert counted[("too_large", "")] == 1
        assert counted[("bad_encoding", "")] == 2
        assert counted[("bad_header", "")] == 1
        assert counted[("origin", slug)] >= 1
        assert counted[("tracking_plan", slug)] == 1
        assert counted[("over_limit", slug)] == 1
        assert counted[("unavailable", slug)] == 1
    finally:
        await gateway.close()


async def test_rate_limited_refusals_are_counted_per_project(
    settings_with: Callable[..., Settings], project: CreatedProject
) -> None:
    gateway = await start_gateway(settings_with(rate_limit_override=2))
    try:
        statuses = [(await post(gateway, event(n), project.public_key))[0] for n in range(4)]
        assert statuses.count(429) >= 1
        counted = await refusals(gateway)
        assert counted[("rate_limited", project.slug)] == statuses.count(429)
    finally:
        await gateway.close()
