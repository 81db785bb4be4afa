"""The 200 promise at the monthly limit, end to end: several senders on two real gateway
processes against a free project (10,000 events a month), a real worker counting meanwhile,
on a Redis of the test's own. Every event answered 200 is materialized, and the answered
events are at most the limit — plus, when Redis stops mid-test, the events answered while
it was down (the documented fail-open overage, counted by the workers, never dropped)."""

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest_gateway.settings import Settings as GatewaySettings
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.integration.stream_workers.workers import applied_offsets, wait_until
from tests.support.projects import new_project
from tests.support.quota_load import Load, unreserved
from tests.support.redis_server import PrivateRedis

pytestmark = pytest.mark.integration

LIMIT = 10_000  # the free plan's
SENDERS = 8


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gateways(
    services: Any, database: str, kafka_topic: str, redis_prefix: str, private_redis: PrivateRedis
) -> Iterator[list[str]]:
    settings = GatewaySettings(
        database_url=database,
        redis_url=private_redis.url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        control_topic=f"{kafka_topic}-control",
        redis_prefix=redis_prefix,
    )
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                gateway_process(
                    settings,
                    RA_RATE_LIMIT="1000000",
                    RA_INGEST_OVERFLOW_EVENTS_PER_SECOND="0",  # one lane, one worker
                )
            )
            for _ in range(2)
        ]


async def materialized(database: str, project_id: str, unique_group: str, answered: int) -> int:
    await wait_until(lambda: applied_offsets(database, unique_group) >= answered, 90, "the worker")
    with psycopg.connect(database) as conn:
        events = conn.execute(
            "SELECT count(*) FROM events WHERE project_id = %s", (project_id,)
        ).fetchone()
        used = conn.execute(
            "SELECT sum(used) FROM usage_months WHERE project_id = %s", (project_id,)
        ).fetchone()
    assert events is not None and used is not None
    assert events[0] == used[0], "raw store and usage agree"
    return int(events[0])


async def test_answered_200_equals_materialized_and_stays_within_the_limit(
    gateways: list[str],
    database: str,
    spawn: Any,
    unique_group: str,
    private_redis: PrivateRedis,
) -> None:
    project = await new_project(database, "capped")
    worker = spawn("counting")
    worker.env["RA_REDIS_URL"] = private_redis.url
    worker.start()
    try:
        load = Load(gateways, project.public_key, LIMIT)
        await load.run(SENDERS)
        assert load.other == [] and load.refused >= SENDERS
        count = await materialized(database, project.id, unique_group, load.answered)
    finally:
        worker.stop()
    assert count == load.answered
    assert LIMIT - 100 < load.answered <= LIMIT
    assert await unreserved(gateways) == 0


async def test_redis_stopped_mid_load_costs_only_the_counted_fail_open_overage(
    gateways: list[str],
    database: str,
    spawn: Any,
    unique_group: str,
    private_redis: PrivateRedis,
) -> None:
    project = await new_project(database, "outage")
    worker = spawn("counting")
    worker.env["RA_REDIS_URL"] = private_redis.url
    worker.env["RA_WORKER_USAGE_RESYNC_SECONDS"] = "2"
    worker.start()
    try:
        load = Load(gateways, project.public_key, LIMIT)
        sending = asyncio.create_task(load.run(SENDERS))
        await wait_until(lambda: load.answered >= LIMIT // 2, 60, "half the limit answered")
        private_redis.stop()
        down_from = load.answered
        await asyncio.sleep(1.5)
        assert load.answered > down_from, "fail open: 200s while Redis is down"
        private_redis.start()
        await sending
        assert load.other == []
        overage = await unreserved(gateways)
        count = await materialized(database, project.id, unique_group, load.answered)
    finally:
        worker.stop()
    assert count == load.answered  # every 200 counted, none dropped
    assert overage > 0 and load.answered <= LIMIT + overage
