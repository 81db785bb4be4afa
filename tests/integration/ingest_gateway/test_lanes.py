"""Overflow routing against real Redis and Kafka: a project over the threshold is appended to
the overflow topic (sticky for a while), every other project stays on the main one, the
records are the same, and Redis out of reach keeps everyone on the main lane."""

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from contracts.lanes import Lane
from control_plane.projects import CreatedProject
from ingest_gateway.lanes import LaneMeter
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import start_gateway
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.support.kafka import read_topic
from tests.support.projects import new_project

pytestmark = pytest.mark.integration

THRESHOLD = 250  # events per second


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def at_start_of_a_second(redis_url: str) -> None:
    """Wait until Redis's clock (the meter's windows) is early in a second."""
    with redis.Redis.from_url(redis_url) as client:
        _, micros = client.time()
    if micros > 300_000:
        await asyncio.sleep((1_000_000 - micros) / 1e6 + 0.01)


def batch(first: int, count: int) -> list[dict[str, Any]]:
    return [event(n) for n in range(first, first + count)]


async def overflow_metric(gateway: TestClient, slug: str) -> float:
    text = await (await gateway.get("/metrics")).text()
    line = f'ingest_overflow_events_total{{project="{slug}"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


async def test_a_project_over_the_threshold_goes_to_the_overflow_topic_and_stays_a_while(
    settings_with: Callable[..., Settings],
    services: Any,
    database: str,
    project: CreatedProject,
    kafka_topic: str,
    overflow_topic: str,
) -> None:
    quiet = await new_project(database, "quiet")
    gateway = await start_gateway(
        settings_with(overflow_events_per_second=THRESHOLD, overflow_sticky_seconds=3.0)
    )
    try:
        statuses = [(await post(gateway, batch(500, 5), quiet.public_key))[0]]  # warm
        await at_start_of_a_second(services.redis_url)
        # 100, 200: under the threshold; 300 passes it, and that request goes over too.
        for n in (0, 100, 300):
            statuses.append((await post(gateway, batch(n, 100), project.public_key))[0])
        # Sticky: small requests of the hot project stay on the overflow lane; the other
        # project's stay on the main one.
        await asyncio.sleep(1.1)
        statuses.append((await post(gateway, batch(400, 5), project.public_key))[0])
        statuses.append((await post(gateway, batch(200, 100), quiet.public_key))[0])
        assert statuses == [200] * 6
        main = await read_topic(services.kafka_bootstrap, kafka_topic, 305, timeout=10)
        hot = await read_topic(services.kafka_bootstrap, overflow_topic, 105, timeout=10)
        assert await overflow_metric(gateway, project.slug) == 105
        assert await overflow_metric(gateway, quiet.slug) == 0

        # The mark runs out once the project stays under the threshold: back to main.
        await asyncio.sleep(3.2)
        assert (await post(gateway, batch(600, 1), project.public_key))[0] == 200
        main_after = await read_topic(services.kafka_bootstrap, kafka_topic, 306, timeout=10)
    finally:
        await gateway.close()

    def ids(records: list[dict[str, Any]], who: CreatedProject) -> list[str]:
        return sorted(str(r["insertId"]) for r in records if r["projectId"] == who.id)

    assert ids(main, project) == sorted(f"ins-{n}" for n in range(200))
    assert ids(main, quiet) == sorted(f"ins-{n}" for n in [*range(200, 300), *range(500, 505)])
    assert ids(hot, project) == sorted(f"ins-{n}" for n in [*range(300, 400), *range(400, 405)])
    assert ids(hot, quiet) == []
    # The same records on both lanes: same fields, same key (project:distinctId).
    assert {frozenset(r) for r in main} == {frozenset(r) for r in hot}
    assert all(r["_key"] == f"{project.id}:{r['distinctId']}" for r in hot)
    assert len(main_after) == 306
    assert "ins-600" in ids(main_after, project)


async def test_the_meter_counts_a_project_over_every_gateway(
    services: Any, redis_prefix: str
) -> None:
    clients = [Redis.from_url(services.redis_url) for _ in range(2)]
    try:
        meters = [LaneMeter(c, redis_prefix, THRESHOLD, sticky_seconds=5) for c in clients]
        await at_start_of_a_second(services.redis_url)
        lanes = [(await meters[i % 2].route("p1", 60)).lane for i in range(4)]  # 240
        other = (await meters[1].route("p2", 60)).lane
        passing = await meters[1].route("p1", 60)  # 300: over, counted on both gateways
        after = await meters[0].route("p1", 1)
    finally:
        for client in clients:
            await client.aclose()
    assert lanes == [Lane.MAIN] * 4 and other is Lane.MAIN
    assert passing.lane is Lane.OVERFLOW and passing.entered
    assert after.lane is Lane.OVERFLOW and not after.entered


async def test_redis_out_of_reach_keeps_every_project_on_the_main_lane(
    settings_with: Callable[..., Settings],
    services: Any,
    project: CreatedProject,
    kafka_topic: str,
    overflow_topic: str,
) -> None:
    gateway = await start_gateway(
        settings_with(
            redis_url=f"redis://127.0.0.1:{closed_port()}/0", overflow_events_per_second=1
        )
    )
    try:
        assert (await post(gateway, batch(0, 100), project.public_key))[0] == 200
        metrics = await (await gateway.get("/metrics")).text()
    finally:
        await gateway.close()
    assert len(await read_topic(services.kafka_bootstrap, kafka_topic, 100, timeout=10)) == 100
    assert await read_topic(services.kafka_bootstrap, overflow_topic, None, timeout=1) == []
    assert 'ingest_redis_failures_total{operation="admission"} 1.0' in metrics


async def test_routing_off_keeps_every_project_on_the_main_lane(
    settings_with: Callable[..., Settings],
    services: Any,
    project: CreatedProject,
    kafka_topic: str,
    overflow_topic: str,
    redis_prefix: str,
) -> None:
    gateway = await start_gateway(settings_with(overflow_events_per_second=0))
    try:
        for n in range(0, 500, 100):
            assert (await post(gateway, batch(n, 100), project.public_key))[0] == 200
    finally:
        await gateway.close()
    assert len(await read_topic(services.kafka_bootstrap, kafka_topic, 500, timeout=10)) == 500
    assert await read_topic(services.kafka_bootstrap, overflow_topic, None, timeout=1) == []
    with redis.Redis.from_url(services.redis_url) as client:
        assert not list(client.scan_iter(match=f"{redis_prefix}lane*"))
