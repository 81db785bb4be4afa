"""The control plane serves its OpenAPI document, and its answers match it."""

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from tests.integration.control_plane.conftest import ORIGIN, signup

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}


def check(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    responses = document["paths"]["/api" + path][method]["responses"]
    assert str(status) in responses, (method, path, status)
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    OAS30Validator({**schema, "components": document["components"]}).validate(body)


async def test_document_is_served_valid_and_the_answers_match_it(
    app_client: TestClient,
) -> None:
    response = await app_client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    validate_spec(document)

    async def call(method: str, path: str, template: str, **kwargs: Any) -> Any:
        answer = await app_client.request(method.upper(), "/api" + path, headers=W, **kwargs)
        body = await answer.json()
        check(document, method, template, answer.status, body)
        return body

    signup_body = {"email": "docs@example.com", "password": "correct horse battery"}
    await call("post", "/auth/signup", "/auth/signup", json=signup_body)
    await call("post", "/auth/signup", "/auth/signup", json={"email": "x"})
    await call("get", "/me", "/me")
    await signup(app_client)
    await call("get", "/me", "/me")
    created = await call("post", "/projects", "/projects", json={"name": "D", "slug": "docs"})
    await call("post", "/projects", "/projects", json={"name": "D", "slug": "docs"})
    await call("post", "/projects", "/projects", json={"name": "E", "slug": "e-1", "plan": "pro"})
    await call("get", "/projects", "/projects")
    await call("get", "/projects/docs", "/projects/{ref}")
    await call("get", "/projects/nope", "/projects/{ref}")
    await call("patch", "/projects/docs", "/projects/{ref}", json={"rawRetentionDays": 30})
    await call("patch", "/projects/docs", "/projects/{ref}", json={"rawRetentionDays": 0})
    await call("patch", "/projects/nope", "/projects/{ref}", json={"rawRetentionDays": 30})
    invitation = await call(
        "post",
        "/projects/docs/members",
        "/projects/{ref}/members",
        json={"email": "friend@example.com"},
    )
    await call("get", "/projects/docs/invitations", "/projects/{ref}/invitations")
    await call(
        "delete",
        f"/projects/docs/invitations/{invitation['invitation']['id']}",
        "/projects/{ref}/invitations/{invitation_id}",
    )
    await call("post", "/invitations/accept", "/invitations/accept", json={"token": "ra_x"})
    await call("post", "/projects/docs/plan", "/projects/{ref}/plan", json={"plan": "pro"})
    await call("post", "/projects/docs/keys/rotate", "/projects/{ref}/keys/rotate")
    await call("get", "/projects/docs/config", "/projects/{ref}/config")
    await call("get", "/projects/docs/configs", "/projects/{ref}/configs")
    events = "/projects/{ref}/persons/{distinctId}/events"
    await call("get", "/projects/docs/persons/u1/events?format=csv", events)
    await call("get", "/projects/nope/persons/u1/events", events)
    export = "/projects/{ref}/events/export"
    await call("get", "/projects/docs/events/export?from=2026-01-02&to=2026-01-01", export)
    await call("get", "/projects/nope/events/export?from=2026-01-01&to=2026-01-02", export)
    await call("post", "/cli/tokens", "/cli/tokens")
    await call("post", "/cli/validate", "/cli/validate", json={"token": "ra_once_x"})
    await call("post", "/auth/password-reset", "/auth/password-reset", json={"email": "a@b.co"})
    await call(
        "post",
        "/auth/password-reset/confirm",
        "/auth/password-reset/confirm",
        json={"token": "ra_reset_x", "password": "correct horse battery"},
    )
    assert created["secretKey"].startswith("sk_live_")
