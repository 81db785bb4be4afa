"""Deploys that would hurt other tenants are refused at the door, with a clear answer:
repeated names, unbounded lists, configs larger than the control topic should carry."""

import io
import json

import orjson
import pytest
from aiohttp.test_utils import TestClient

from contracts.config import MAX_CONFIG_BYTES
from tests.integration.control_plane.conftest import ORIGIN, signup

pytestmark = pytest.mark.integration


async def project_secret(client: TestClient, slug: str) -> str:
    await signup(client)
    response = await client.post(
        "/api/projects", json={"name": slug, "slug": slug}, headers={"Origin": ORIGIN}
    )
    assert response.status == 201
    return str((await response.json())["secretKey"])


async def deploy_raw(client: TestClient, secret: str, body: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = await client.post(
        "/api/deploy",
        data=io.BytesIO(body),
        headers={"Origin": ORIGIN, "X-Secret-Key": secret, "Content-Type": "application/json"},
    )
    return response.status, await response.json()


def body(config: object) -> bytes:
    return json.dumps({"projectId": "shop", "config": config}).encode()


async def test_a_required_property_listed_again_and_again_is_400(app_client: TestClient) -> None:
    secret = await project_secret(app_client, "shop")
    plan = {"events": {"signup": {"properties": {"plan": "string"}, "required": ["plan"] * 5000}}}
    status, answer = await deploy_raw(app_client, secret, body({"trackingPlan": plan}))
    assert status == 400, answer
    assert answer["error"] == "Validation failed"
    fields = {d["field"] for d in answer["details"]}
    assert fields == {"config.trackingPlan.events.signup.value.required"}
    assert "Must not repeat a value." in [d["message"] for d in answer["details"]]
    assert len(orjson.dumps(answer)) < 64 * 1024


async def test_an_event_or_property_named_twice_is_400(app_client: TestClient) -> None:
    secret = await project_secret(app_client, "shop")
    twice = (
        b'{"projectId": "shop", "config": {"trackingPlan": {"events": {'
        b'"signup": {"properties": {"plan": "string"}},'
        b'"signup": {"properties": {"coupon": "string", "coupon": "integer"}}}}}}'
    )
    status, answer = await deploy_raw(app_client, secret, twice)
    assert status == 400, answer
    messages = [d["message"] for d in answer["details"]]
    assert "Key 'signup' appears more than once in one object." in messages
    assert "Key 'coupon' appears more than once in one object." in messages


async def test_a_config_over_the_size_limit_is_413(app_client: TestClient) -> None:
    secret = await project_secret(app_client, "shop")
    events = {
        f"event_{i:04}": {"properties": {f"p_{j:02}_{'x' * 40}": "string" for j in range(10)}}
        for i in range(600)
    }
    status, answer = await deploy_raw(
        app_client, secret, body({"trackingPlan": {"events": events}})
    )
    assert status == 413, answer
    assert answer["error"] == "Payload too large"
    assert answer["limit"] == MAX_CONFIG_BYTES and answer["size"] > MAX_CONFIG_BYTES
    # Nothing was stored: the project has no config yet.
    response = await app_client.get("/api/projects/shop/config")
    assert response.status == 404


async def test_a_request_over_the_body_limit_is_413_json(app_client: TestClient) -> None:
    secret = await project_secret(app_client, "shop")
    status, answer = await deploy_raw(app_client, secret, b'{"x": "' + b"a" * 2_000_000 + b'"}')
    assert (status, answer) == (413, {"error": "Payload too large"})


async def test_refusals_are_counted_by_reason(app_client: TestClient) -> None:
    secret = await project_secret(app_client, "shop")
    await deploy_raw(app_client, secret, body({"retentionDays": 0}))
    response = await app_client.get("/api/control/metrics")
    text = await response.text()
    assert 'control_deploys_refused_total{reason="invalid"} 1.0' in text


async def test_a_saved_query_nested_too_deep_is_400(app_client: TestClient) -> None:
    secret = await project_secret(app_client, "shop")
    query: dict[str, object] = {"type": "metric"}
    inner = query
    for _ in range(300):
        inner["filter"] = {}
        inner = inner["filter"]  # type: ignore[assignment]
    chart = {"title": "deep", "query": query}
    config = {"dashboards": [{"name": "d", "charts": [chart]}]}
    status, answer = await deploy_raw(app_client, secret, body(config))
    assert status == 400, answer
    assert "nested deeper than 32 levels" in answer["details"][0]["message"]
