"""The outbox relay publishes each deploy exactly once, even killed between publish and mark."""

import asyncio

import psycopg
import pytest

from contracts.config import load_config
from control_plane.deploys import deploy_config
from control_plane.outbox import OutboxRelay
from tests.fixtures.services import Services
from tests.support.kafka import read_topic
from tests.support.projects import new_project

pytestmark = pytest.mark.integration


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the relay catches it, nothing after it runs."""


@pytest.fixture
def database(pg_schema: str) -> str:
    from migrations.runner import apply_migrations

    apply_migrations(pg_schema)
    return pg_schema


async def pending(database: str) -> int:
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM control_outbox WHERE published_at IS NULL"
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def deploy(database: str, project_id: str, retention: int) -> int:
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        return await deploy_config(
            conn, project_id, load_config({"retentionDays": retention}), None
        )


async def drain(relays: list[OutboxRelay], database: str, timeout: float = 15.0) -> None:
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not await pending(database):
                break
            await asyncio.sleep(0.05)
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.gather(*tasks)


async def test_killed_between_publish_and_mark_then_restarted(
    services: Services, database: str, kafka_topic: str
) -> None:
    project = await new_project(database, "outbox")
    assert await deploy(database, project.id, 30) == 1

    async def kill(outbox_id: int) -> None:
        raise Killed

    crashing = OutboxRelay(
        database, services.kafka_bootstrap, kafka_topic, poll_seconds=0.1, after_publish=kill
    )
    with pytest.raises(Killed):
        await asyncio.wait_for(crashing.run(), timeout=20)
    # The record reached Kafka; the row was never marked.
    assert await pending(database) == 1
    assert len(await read_topic(services.kafka_bootstrap, kafka_topic, expected=1)) == 1

    assert await deploy(database, project.id, 60) == 2  # deployed while the relay is down
    await drain([OutboxRelay(database, services.kafka_bootstrap, kafka_topic, 0.1)], database)

    assert await pending(database) == 0
    records = await read_topic(services.kafka_bootstrap, kafka_topic, timeout=2.0)
    assert [(r["_key"], r["version"]) for r in records] == [(project.id, 1), (project.id, 2)]
    assert [r["config"]["retentionDays"] for r in records] == [30, 60]  # type: ignore[index]


async def test_two_relays_publish_each_entry_once(
    services: Services, database: str, kafka_topic: str
) -> None:
    project = await new_project(database, "pair")
    for retention in range(1, 6):
        await deploy(database, project.id, retention)
    relays = [OutboxRelay(database, services.kafka_bootstrap, kafka_topic, 0.1) for _ in range(2)]
    await drain(relays, database)
    records = await read_topic(services.kafka_bootstrap, kafka_topic, timeout=2.0)
    assert [r["version"] for r in records] == [1, 2, 3, 4, 5]


async def test_a_deploy_wakes_the_relay_of_another_process(
    services: Services, database: str, kafka_topic: str
) -> None:
    project = await new_project(database, "notify")
    await deploy(database, project.id, 10)
    relay = OutboxRelay(database, services.kafka_bootstrap, kafka_topic, poll_seconds=60)
    task = asyncio.create_task(relay.run())
    try:
        # The first pass publishes what was pending; the relay listens from before it.
        await read_topic(services.kafka_bootstrap, kafka_topic, expected=1, timeout=30)
        # Not through relay.wake(): as if another App API copy took the deploy.
        await deploy(database, project.id, 20)
        records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=2, timeout=5)
        assert [r["version"] for r in records] == [1, 2]  # well before the 60 s poll
    finally:
        relay.stop()
        await task
