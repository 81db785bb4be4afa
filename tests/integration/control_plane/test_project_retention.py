"""A project's raw-event retention (issue 17): owners set it with ``PATCH
/api/projects/{ref}`` within the operators' maximum, every project body shows it, and the
``realanalytics projects retention`` command sets it too."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, mailed_code, signup, start
from tests.integration.control_plane.test_exports import run_cli

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}


async def create(client: TestClient, slug: str) -> dict[str, Any]:
    response = await client.post("/api/projects", json={"name": slug, "slug": slug}, headers=W)
    assert response.status == 201, await response.text()
    return (await response.json())["project"]  # type: ignore[no-any-return]


async def patch(client: TestClient, ref: str, body: Any) -> tuple[int, Any]:
    response = await client.patch(f"/api/projects/{ref}", json=body, headers=W)
    return response.status, await response.json()


async def test_an_owner_sets_the_retention_and_every_project_body_shows_it(
    app_client: TestClient,
) -> None:
    await signup(app_client)
    created = await create(app_client, "kept")
    assert created["rawRetentionDays"] == 365  # the default
    status, body = await patch(app_client, "kept", {"rawRetentionDays": 30})
    assert status == 200, body
    assert body["project"]["rawRetentionDays"] == 30
    assert body["project"]["slug"] == "kept" and body["project"]["role"] == "owner"
    shown = await (await app_client.get("/api/projects/kept")).json()
    assert shown["project"]["rawRetentionDays"] == 30
    listed = await (await app_client.get("/api/projects")).json()
    assert [p["rawRetentionDays"] for p in listed["projects"]] == [30]
    # By id too, and the name in the same PATCH; what is absent stays.
    status, body = await patch(app_client, created["id"], {"name": "Kept", "rawRetentionDays": 1})
    assert status == 200, body
    assert (body["project"]["name"], body["project"]["rawRetentionDays"]) == ("Kept", 1)
    status, body = await patch(app_client, "kept", {"name": "Renamed"})
    assert (body["project"]["name"], body["project"]["rawRetentionDays"]) == ("Renamed", 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rawRetentionDays": 0}, "rawRetentionDays"),
        ({"rawRetentionDays": -1}, "rawRetentionDays"),
        ({"rawRetentionDays": "30"}, "rawRetentionDays"),
        ({"rawRetentionDays": 30.5}, "rawRetentionDays"),
        ({"rawRetentionDays": True}, "rawRetentionDays"),
        ({"rawRetentionDays": None}, "rawRetentionDays"),
        ({"rawRetentionDays": 1826}, "rawRetentionDays"),  # past the default maximum
        ({"rawRetentionDays": 2**70}, "rawRetentionDays"),  # past any integer column
        ({"rawRetentionDays": 30, "plan": "pro"}, "plan"),
        ({"retention": 30}, "retention"),
        ({"name": ""}, "name"),
        ({}, None),
        ([30], None),
    ],
)
async def test_invalid_retentions_are_400_and_change_nothing(
    app_client: TestClient, body: Any, field: str | None
) -> None:
    await signup(app_client)
    await create(app_client, "strict")
    status, answer = await patch(app_client, "strict", body)
    assert status == 400, answer
    assert answer["error"] == "Validation failed"
    assert [d["field"] for d in answer["details"]] == [field]
    shown = await (await app_client.get("/api/projects/strict")).json()
    assert shown["project"]["rawRetentionDays"] == 365
    assert shown["project"]["name"] == "strict"


async def test_past_the_operators_maximum_the_answer_names_it(settings: Settings) -> None:
    client = await start(replace(settings, max_raw_retention_days=90))
    try:
        await signup(client)
        await create(client, "short")
        status, answer = await patch(client, "short", {"rawRetentionDays": 91})
        assert (status, answer["details"]) == (
            400,
            [
                {
                    "field": "rawRetentionDays",
                    "message": "Must be at most 90 days (the operators' maximum).",
                }
            ],
        )
        status, answer = await patch(client, "short", {"rawRetentionDays": 90})
        assert (status, answer["project"]["rawRetentionDays"]) == (200, 90)
    finally:
        await client.close()


async def test_only_owners_set_it(
    app_client: TestClient,
    client_for,  # type: ignore[no-untyped-def]
    settings: Settings,
) -> None:
    await signup(app_client)
    await create(app_client, "team")
    email = "member@example.com"
    response = await app_client.post("/api/projects/team/members", json={"email": email}, headers=W)
    assert response.status == 201, await response.text()
    member = await client_for()
    await signup(member, email)
    code = await mailed_code(Path(settings.mail_dir), email, "ra_invite_")
    accepted = await member.post("/api/invitations/accept", json={"token": code}, headers=W)
    assert accepted.status == 200, await accepted.text()

    # A member: the 403 of the other owner-only routes, whatever the body.
    for body in ({"rawRetentionDays": 30}, {"rawRetentionDays": 0}):
        assert await patch(member, "team", body) == (403, {"error": "Forbidden"})
    stranger = await client_for()
    await signup(stranger)
    assert await patch(stranger, "team", {"rawRetentionDays": 30}) == (403, {"error": "Forbidden"})
    assert await patch(stranger, "nope", {"rawRetentionDays": 30}) == (403, {"error": "Forbidden"})
    anonymous = await client_for()
    assert (await patch(anonymous, "team", {"rawRetentionDays": 30}))[0] == 401
    # A session's write from another origin is refused before anything is read.
    foreign = await app_client.patch(
        "/api/projects/team", json={"rawRetentionDays": 30}, headers={"Origin": "http://evil"}
    )
    assert foreign.status == 403
    shown = await (await member.get("/api/projects/team")).json()
    assert shown["project"]["rawRetentionDays"] == 365


async def test_the_cli_sets_and_shows_it(app_client: TestClient, tmp_path: Path) -> None:
    await signup(app_client)
    await create(app_client, "cli")
    result = await run_cli(app_client, tmp_path, "projects", "retention", "cli", "45")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "cli: raw events kept 45 days"
    shown = await run_cli(app_client, tmp_path, "projects", "show", "cli")
    assert "raw events kept 45 days" in shown.output
    listed = await run_cli(app_client, tmp_path, "projects", "list")
    assert "retention" in listed.output.splitlines()[0]
    refused = await run_cli(app_client, tmp_path, "projects", "retention", "cli", "1826")
    assert refused.exit_code != 0
    assert "1825" in refused.output
