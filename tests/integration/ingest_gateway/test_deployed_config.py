"""A config deployed on the control topic is enforced by a running gateway, no restart."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from contracts.control import ConfigDeployed
from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import deploy, eventually, start_gateway
from tests.integration.ingest_gateway.test_ingest import event, post

pytestmark = pytest.mark.integration

STRICT = {
    "mode": "strict",
    "events": {"page_viewed": {"properties": {"$pathname": "string"}, "required": ["$pathname"]}},
}


@pytest.fixture
async def gateway_on_control(
    settings_with: Callable[..., Settings], control_topic: str
) -> AsyncIterator[TestClient]:
    client = await start_gateway(settings_with(control_topic=control_topic))
    yield client
    await client.close()


async def test_deploy_applies_origins_and_strict_plan_without_restart(
    gateway_on_control: TestClient,
    project: CreatedProject,
    services: Any,
    control_topic: str,
) -> None:
    gateway, key = gateway_on_control, project.public_key
    evil = {"Origin": "https://evil.example"}
    assert (await post(gateway, event(1, event="anything"), key, headers=dict(evil)))[0] == 200

    config = {"allowedOrigins": ["https://shop.example"], "trackingPlan": STRICT}
    await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 1, config))

    async def origin_refused() -> bool:
        answer = await post(gateway, event(2), key, headers=dict(evil))
        return answer == (403, {"error": "Origin not allowed"})

    assert await eventually(origin_refused)
    shop = {"Origin": "https://shop.example"}
    assert (await post(gateway, event(3), key, headers=dict(shop)))[0] == 200
    assert (await post(gateway, event(4), key))[0] == 200  # no Origin: a server

    status, body = await post(gateway, [event(5), event(6, event="checkout")], key)
    assert status == 400
    assert body["details"] == [
        {"index": 1, "field": "event", "message": "Not in the tracking plan."}
    ]
    status, body = await post(gateway, event(7, properties={"$pathname": 7}), key)
    assert (status, body["details"][0]["field"]) == (400, "properties.$pathname")


async def test_a_starting_gateway_enforces_what_was_deployed_before(
    settings_with: Callable[..., Settings],
    project: CreatedProject,
    services: Any,
    control_topic: str,
) -> None:
    config = {"allowedOrigins": ["https://shop.example"]}
    await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 1, config))
    gateway = await start_gateway(settings_with(control_topic=control_topic))
    try:
        answer = await post(
            gateway, event(1), project.public_key, headers={"Origin": "https://evil.example"}
        )
        assert answer == (403, {"error": "Origin not allowed"})
    finally:
        await gateway.close()
