"""A project's queries run on its shard's database (contracts/shards.py), and their
freshness reads that shard's workers' offsets."""

import dataclasses
import socket
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from redis.asyncio import Redis

from contracts.shards import shard_group
from stream_workers.metrics import Metrics
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.shards import Directory
from stream_workers.sink import Sink
from tests.fixtures.services import unique_suffix
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import CONSUMER, World, make_world, start_client
from tests.integration.stream_workers.conftest import as_raw

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, tzinfo=UTC)
RANGE = {"start": "2026-03-01T00:00:00.000Z", "end": "2026-03-02T23:59:59.999Z"}


async def fill_shard(world: World, shard: str, url: str, records: list[Any]) -> None:
    """Apply records as ``shard``'s worker does: into its database, under its group."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    redis = Redis.from_url(world.redis_url)

    async def control() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(world.database, autocommit=True)

    async def nowhere(items: object) -> None:
        raise AssertionError(f"dead-lettered: {items}")

    directory = Directory(shard, control)
    sink = Sink(
        conn,
        redis,
        consumer=shard_group(CONSUMER, shard),
        topic="events",
        redis_prefix=world.prefix,
        dead_letter=nowhere,
        keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
        metrics=Metrics(),
        directory=directory,
    )
    await sink.start()
    try:
        result = await sink.apply(as_raw(records))
        assert result.applied == len(records)
    finally:
        await directory.close()
        await conn.close()
        await redis.aclose()


@pytest.fixture
def world(services: Any, pg_schema: str) -> World:
    return make_world(services, pg_schema, f"t:{unique_suffix()}:")


async def test_a_project_on_another_shard_is_answered_from_its_database(
    world, pg_schema, shard_database
):
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute("UPDATE projects SET shard = 'eu' WHERE id = %s", (world.project,))
    records = truth.generate(world.project, START, 2, 600, seed=3)
    await fill_shard(world, "eu", shard_database, records)
    document = {
        "type": "metric",
        "event": "$pageview",
        "metric": "count",
        "projectId": "alpha",
        "dateRange": RANGE,
    }
    expected = len([r for r in records if r.event == "$pageview"])
    cookies = {"ra_session": world.cookie}

    sharded = dataclasses.replace(
        world.settings(), shard_databases={"default": pg_schema, "eu": shard_database}
    )
    client = await start_client(world, sharded)
    try:
        response = await client.post("/api/query", json=document, cookies=cookies)
        answer = await response.json()
        ready = await client.get("/api/query/ready")
    finally:
        await client.close()
    assert response.status == 200, answer
    assert answer["value"] == expected > 0
    assert answer["meta"]["freshness"]["partitions"] > 0  # the eu group's offsets, in eu
    assert ready.status == 200

    # The control database alone (a query API not given the shard): a clear 503, no 500,
    # and never the control database's (empty) answer for the project.
    client = await start_client(world)
    try:
        response = await client.post("/api/query", json=document, cookies=cookies)
        refused = await response.json()
    finally:
        await client.close()
    assert (response.status, refused["code"]) == (503, "SHARD_NOT_CONFIGURED")
    assert "Retry-After" in response.headers


async def test_a_shard_that_does_not_answer_keeps_the_service_ready(world, pg_schema):
    """Readiness says which shard is down but stays 200: a load balancer that took every
    query API out for one shard would stop every other project's queries too."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = f"postgresql://nobody@127.0.0.1:{closed}/none?connect_timeout=1"
    sharded = dataclasses.replace(
        world.settings(), shard_databases={"default": pg_schema, "eu": down}
    )
    client = await start_client(world, sharded)
    try:
        ready = await client.get("/api/query/ready")
        body = await ready.json()
        document = {
            "type": "metric",
            "event": "$pageview",
            "metric": "count",
            "projectId": "alpha",
            "dateRange": RANGE,
        }
        response = await client.post(
            "/api/query", json=document, cookies={"ra_session": world.cookie}
        )
    finally:
        await client.close()
    assert (ready.status, body) == (
        200,
        {"redis": True, "database": True, "shards": {"eu": False}},
    )
    assert response.status == 200  # alpha lives on the default shard
