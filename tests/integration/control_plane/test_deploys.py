"""Deploys: every auth failure, validation, versions and rollback, published on `control`."""

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, cli_access_token, signup
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, relay_enabled=True)


CONFIG = {
    "trackingPlan": {
        "mode": "strict",
        "events": {"signup_completed": {"properties": {"plan": "string"}, "required": ["plan"]}},
    },
    "breakdownKeys": ["plan"],
    "allowedOrigins": ["https://shop.example"],
    "retentionDays": 90,
}


async def new_project(client: TestClient, slug: str) -> dict:  # type: ignore[type-arg]
    response = await client.post(
        "/api/projects", json={"name": slug, "slug": slug}, headers={"Origin": ORIGIN}
    )
    assert response.status == 201
    return await response.json()  # type: ignore[no-any-return]


async def deploy(
    client: TestClient, project: str, secret: str | None, config: object = CONFIG, **headers: str
) -> tuple[int, dict]:  # type: ignore[type-arg]
    if secret is not None:
        headers["X-Secret-Key"] = secret
    response = await client.post(
        "/api/deploy", json={"projectId": project, "config": config}, headers=headers
    )
    return response.status, await response.json()


async def test_deploy_is_stored_and_published_once(
    app_client: TestClient, settings: Settings
) -> None:
    await signup(app_client)
    created = await new_project(app_client, "shop")
    status, body = await deploy(app_client, "shop", created["secretKey"], Origin=ORIGIN)
    assert status == 201, body
    assert body["version"] == 1 and body["projectId"] == created["project"]["id"]
    assert body["config"] == CONFIG

    records = await read_topic(settings.kafka_bootstrap, settings.control_topic, expected=1)
    assert [(r["_key"], r["type"], r["version"]) for r in records] == [
        (created["project"]["id"], "config_deployed", 1)
    ]
    assert records[0]["projectId"] == created["project"]["id"]
    assert records[0]["config"] == CONFIG
    # Nothing more arrives: each deploy is one record.
    again = await read_topic(settings.kafka_bootstrap, settings.control_topic, timeout=1.5)
    assert len(again) == 1


async def test_defaults_fill_a_partial_config_and_bearers_deploy_too(
    app_client: TestClient, client_for
) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    created = await new_project(app_client, "blog")
    access = await cli_access_token(app_client)
    cli = await client_for()
    status, body = await deploy(
        cli,
        created["project"]["id"],
        created["secretKey"],
        {"breakdownKeys": ["$pathname"]},
        Authorization=f"Bearer {access}",
    )
    assert status == 201, body
    assert body["config"] == {
        "trackingPlan": {"mode": "lenient", "events": {}},
        "breakdownKeys": ["$pathname"],
        "allowedOrigins": [],
        "retentionDays": 365,
    }


async def test_every_auth_failure(app_client: TestClient, client_for) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    mine = await new_project(app_client, "mine")
    other = await new_project(app_client, "other")
    w = {"Origin": ORIGIN}

    anonymous = await client_for()
    assert (await deploy(anonymous, "mine", mine["secretKey"]))[0] == 401
    status, body = await deploy(app_client, "mine", None, **w)
    assert (status, body) == (401, {"error": "Invalid secret key"})
    status, body = await deploy(app_client, "mine", "sk_live_wrong", **w)
    assert (status, body) == (401, {"error": "Invalid secret key"})
    status, body = await deploy(app_client, "mine", other["secretKey"], **w)
    assert (status, body) == (401, {"error": "Invalid secret key"})
    status, body = await deploy(app_client, "mine", mine["publicKey"], **w)
    assert status == 401
    # A cookie without the app's Origin is refused before anything else.
    assert (await deploy(app_client, "mine", mine["secretKey"]))[0] == 403

    stranger = await client_for()
    await signup(stranger)
    status, body = await deploy(stranger, "mine", mine["secretKey"], **w)
    assert (status, body) == (403, {"error": "Forbidden"})
    status, _ = await deploy(stranger, "missing-project", mine["secretKey"], **w)
    assert status == 403

    access = await cli_access_token(app_client)
    status, _ = await deploy(
        anonymous, "mine", mine["secretKey"], Authorization=f"Bearer {access}x"
    )
    assert status == 401
    # After a rotation the old secret key no longer deploys.
    rotated = await app_client.post("/api/projects/mine/keys/rotate", headers=w)
    assert (await deploy(app_client, "mine", mine["secretKey"], **w))[0] == 401
    new_secret = (await rotated.json())["secretKey"]
    assert (await deploy(app_client, "mine", new_secret, **w))[0] == 201


async def test_invalid_configs_are_400_with_details(app_client: TestClient) -> None:
    await signup(app_client)
    created = await new_project(app_client, "strict")
    bad = {
        "trackingPlan": {"mode": "paranoid", "events": {"e": {"required": ["x"]}}},
        "breakdownKeys": ["a", "a"],
        "allowedOrigins": ["https://ok.example", "not an origin"],
        "retentionDays": 0,
        "extra": True,
    }
    status, body = await deploy(app_client, "strict", created["secretKey"], bad, Origin=ORIGIN)
    assert status == 400
    assert body["error"] == "Validation failed"
    fields = {d["field"] for d in body["details"]}
    assert fields == {
        "config.trackingPlan.mode",
        "config.trackingPlan.events.e.value.required",
        "config.breakdownKeys",
        "config.allowedOrigins.1",
        "config.retentionDays",
        "config.extra",
    }
    status, body = await deploy(app_client, "strict", created["secretKey"], [], Origin=ORIGIN)
    assert status == 400


async def test_versions_history_and_rollback(app_client: TestClient, settings: Settings) -> None:
    await signup(app_client)
    created = await new_project(app_client, "versions")
    secret, w = created["secretKey"], {"Origin": ORIGIN}
    assert (await deploy(app_client, "versions", secret, CONFIG, **w))[1]["version"] == 1
    second = {**CONFIG, "retentionDays": 30}
    assert (await deploy(app_client, "versions", secret, second, **w))[1]["version"] == 2

    response = await app_client.post(
        "/api/deploy/rollback",
        json={"projectId": "versions", "version": 1},
        headers={**w, "X-Secret-Key": secret},
    )
    assert response.status == 201
    assert (await response.json())["version"] == 3
    current = await (await app_client.get("/api/projects/versions/config")).json()
    assert current["version"] == 3 and current["config"] == CONFIG
    assert current["rolledBackFrom"] == 1
    history = await (await app_client.get("/api/projects/versions/configs")).json()
    assert [v["version"] for v in history["versions"]] == [3, 2, 1]

    response = await app_client.post(
        "/api/deploy/rollback",
        json={"projectId": "versions", "version": 9},
        headers={**w, "X-Secret-Key": secret},
    )
    assert response.status == 404

    records = await read_topic(settings.kafka_bootstrap, settings.control_topic, expected=3)
    assert [r["version"] for r in records] == [1, 2, 3]
    assert records[2]["config"] == CONFIG
