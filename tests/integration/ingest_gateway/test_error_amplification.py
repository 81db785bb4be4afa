"""Whatever config a project deploys, one refused request gets a bounded 400 (issue 14, case 2).

The configs here are published straight to the control topic, past the control plane's own
validation, because the gateway must hold up against any config it receives.
"""

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from contracts.control import ConfigDeployed
from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import deploy, eventually, start_gateway
from tests.integration.ingest_gateway.test_ingest import event

pytestmark = pytest.mark.integration

MAX_ERROR_BODY = 64 * 1024
LONG_NAME = "\U0001f600" * 500


def strict(required: list[str], declared: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = declared if declared is not None else {k: "string" for k in required}
    return {
        "trackingPlan": {
            "mode": "strict",
            "events": {"page_viewed": {"properties": properties, "required": required}},
        }
    }


async def refused_batch(gateway: Any, key: str) -> tuple[int, bytes]:
    batch = [event(n, properties={}) for n in range(100)]
    response = await gateway.post("/", json=batch, headers={"X-API-Key": key})
    return response.status, await response.read()


@pytest.mark.parametrize(
    ("config", "total"),
    [
        # one required property listed 5,000 times: counted once per event
        (strict(["plan"] * 5000, {"plan": "string"}), 100),
        # 3,000 distinct required properties, none sent: 300,000 problems
        (strict([f"p{i}" for i in range(3000)]), 300_000),
        # long names in the plan do not inflate the body either
        (strict([LONG_NAME + str(i) for i in range(200)]), 20_000),
    ],
)
async def test_a_strict_plan_cannot_amplify_one_400(
    settings_with: Callable[..., Settings],
    project: CreatedProject,
    services: Any,
    control_topic: str,
    config: dict[str, Any],
    total: int,
) -> None:
    await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 1, config))
    gateway = await start_gateway(settings_with(control_topic=control_topic))
    try:

        async def applied() -> bool:
            return (await refused_batch(gateway, project.public_key))[0] == 400

        assert await eventually(applied)
        status, raw = await refused_batch(gateway, project.public_key)
        assert status == 400
        assert len(raw) < MAX_ERROR_BODY
        body = orjson.loads(raw)
        assert body["error"] == "Validation failed"
        assert 1 <= len(body["details"]) <= 100
        assert body["details"][0]["index"] == 0
        assert body["details"][0]["message"] == "Required."
        if total > 100:
            assert len(body["details"]) + body["omittedDetails"] == total
        else:
            assert len(body["details"]) == total
    finally:
        await gateway.close()


async def test_a_malformed_config_is_ignored_and_later_deploys_still_apply(
    settings_with: Callable[..., Settings],
    project: CreatedProject,
    services: Any,
    control_topic: str,
) -> None:
    broken: dict[str, Any] = {"allowedOrigins": "https://shop.example", "trackingPlan": "strict"}
    await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 1, broken))
    fine = {"allowedOrigins": ["https://shop.example"]}
    await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 2, fine))
    gateway = await start_gateway(settings_with(control_topic=control_topic))
    try:

        async def origin_refused() -> bool:
            response = await gateway.post(
                "/",
                json=event(1),
                headers={"X-API-Key": project.public_key, "Origin": "https://evil.example"},
            )
            return response.status == 403

        assert await eventually(origin_refused)
    finally:
        await gateway.close()


async def test_unknown_property_types_in_a_plan_never_give_a_500(
    settings_with: Callable[..., Settings],
    project: CreatedProject,
    services: Any,
    control_topic: str,
) -> None:
    config = strict([], {"$pathname": "no-such-type", "n": 7})
    config["trackingPlan"]["events"]["page_viewed"]["required"] = 5
    await deploy(services.kafka_bootstrap, control_topic, ConfigDeployed(project.id, 1, config))
    gateway = await start_gateway(settings_with(control_topic=control_topic))
    try:
        response = await gateway.post(
            "/", json=event(1, event="page_viewed"), headers={"X-API-Key": project.public_key}
        )
        assert response.status == 200
    finally:
        await gateway.close()
