"""A deploy Kafka refuses for its content is marked failed, shown on that deploy, and never
holds back the deploys queued behind it — of this project or any other."""

import asyncio
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from control_plane.deploys import deploy_config
from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, signup, start
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, relay_enabled=True)


def huge_config(megabytes: float) -> dict[str, Any]:
    """A config of about ``megabytes`` as JSON (past the deploy check, as one stored before
    the limit existed would be)."""
    per_event = {f"p{j:02}_{'x' * 60}": "string" for j in range(20)}
    count = int(megabytes * 1_000_000 / 1500) + 1
    return {
        "trackingPlan": {
            "mode": "lenient",
            "events": {f"e{i}": {"properties": per_event} for i in range(count)},
        },
        "breakdownKeys": [],
        "allowedOrigins": [],
        "retentionDays": 365,
    }


async def create_project(client: TestClient, slug: str) -> dict[str, Any]:
    response = await client.post(
        "/api/projects", json={"name": slug, "slug": slug}, headers={"Origin": ORIGIN}
    )
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def deploy_directly(settings: Settings, project_id: str, config: dict[str, Any]) -> int:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        return await deploy_config(conn, project_id, config, None)


async def deploy(client: TestClient, created: dict[str, Any], retention: int) -> None:
    response = await client.post(
        "/api/deploy",
        json={"projectId": created["project"]["slug"], "config": {"retentionDays": retention}},
        headers={"Origin": ORIGIN, "X-Secret-Key": created["secretKey"]},
    )
    assert response.status == 201, await response.text()


async def history(client: TestClient, slug: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/projects/{slug}/configs")
    assert response.status == 200
    return (await response.json())["versions"]  # type: ignore[no-any-return]


async def wait_for_status(client: TestClient, slug: str, version: int, status: str) -> dict:  # type: ignore[type-arg]
    for _ in range(200):
        found = [v for v in await history(client, slug) if v["version"] == version]
        if found and found[0]["status"] == status:
            return found[0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"version {version} of {slug} never became {status}: {found}")


async def test_a_record_over_the_producer_limit_is_skipped_and_marked(
    app_client: TestClient, settings: Settings
) -> None:
    await signup(app_client)
    big, small = await create_project(app_client, "big"), await create_project(app_client, "small")
    await deploy_directly(settings, big["project"]["id"], huge_config(2.0))
    await deploy(app_client, small, 30)

    records = await read_topic(settings.kafka_bootstrap, settings.control_topic, expected=1)
    assert [(r["_key"], r["version"]) for r in records] == [(small["project"]["id"], 1)]
    failed = await wait_for_status(app_client, "big", 1, "failed")
    assert "too large" in failed["publishError"]
    assert (await wait_for_status(app_client, "small", 1, "published"))["publishError"] is None
    metrics = await (await app_client.get("/api/control/metrics")).text()
    assert 'control_outbox_failed_total{reason="MessageSizeTooLargeError"} 1.0' in metrics
    assert "control_outbox_pending 0.0" in metrics


async def test_a_record_the_broker_refuses_is_skipped_and_later_deploys_go_out(
    settings: Settings,
) -> None:
    # The broker's limit for this topic is lower than the producer's: the refusal comes
    # from Kafka itself, after which an idempotent producer cannot go on as it was.
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, settings.control_topic, {"max.message.bytes": "65536"}
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()
    client = await start(settings)
    try:
        await signup(client)
        big, small = await create_project(client, "big"), await create_project(client, "small")
        await deploy_directly(settings, big["project"]["id"], huge_config(0.2))
        await deploy(client, small, 30)
        await wait_for_status(client, "big", 1, "failed")
        await wait_for_status(client, "small", 1, "published")
        await deploy(client, big, 60)  # the same project's next, valid deploy goes out too
        await deploy(client, small, 90)
        await wait_for_status(client, "big", 2, "published")
        records = await read_topic(settings.kafka_bootstrap, settings.control_topic, expected=3)
        assert sorted((r["_key"], r["version"]) for r in records) == sorted(
            [(small["project"]["id"], 1), (big["project"]["id"], 2), (small["project"]["id"], 2)]
        )
    finally:
        await client.close()
