"""Person deletion requests (issue 17) through the control plane: owners only, validated,
202 and then their progress (the workers carry them out: tests/integration/stream_workers/
test_erasure.py)."""

from pathlib import Path

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, mailed_code, signup
from tests.integration.control_plane.test_members import accept, invite, new_project

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}


async def test_owners_request_a_deletion_and_follow_it(
    app_client: TestClient, client_for, settings: Settings, database: str
) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    await new_project(app_client, "shop")
    response = await app_client.post(
        "/api/projects/shop/deletions", json={"distinctIds": ["user_1", "user_2"]}, headers=W
    )
    assert response.status == 202, await response.text()
    created = await response.json()
    assert (created["status"], created["events"], created["finishedAt"]) == ("pending", 0, None)
    response = await app_client.get(f"/api/projects/shop/deletions/{created['id']}")
    assert (response.status, (await response.json())["status"]) == (200, "pending")
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT distinct_ids FROM person_deletions WHERE id = %s", (created["id"],)
        ).fetchone()
    assert row == (["user_1", "user_2"],)

    # A member who is not an owner: 403, as for a project that does not exist.
    member = await client_for()
    email = await signup(member)
    await invite(app_client, "shop", email)
    assert (
        await accept(member, await mailed_code(Path(settings.mail_dir), email, "ra_invite_")) == 200
    )
    response = await member.post(
        "/api/projects/shop/deletions", json={"distinctIds": ["user_3"]}, headers=W
    )
    assert response.status == 403
    response = await member.get(f"/api/projects/shop/deletions/{created['id']}")
    assert response.status == 403

    # Another project's owner cannot see it either; an unknown id is a 404.
    await new_project(app_client, "blog")
    response = await app_client.get(f"/api/projects/blog/deletions/{created['id']}")
    assert response.status == 404
    response = await app_client.get("/api/projects/shop/deletions/not-a-uuid")
    assert response.status == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"distinctIds": []},
        {"distinctIds": [""]},
        {"distinctIds": ["x" * 201]},
        {"distinctIds": [f"u{n}" for n in range(1001)]},
        {"distinctIds": "user_1"},
        {"distinctIds": [1]},
        {"distinctIds": ["a"], "other": 1},
    ],
)
async def test_a_malformed_request_is_a_400_with_details(app_client: TestClient, body) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    await new_project(app_client, "shop")
    response = await app_client.post("/api/projects/shop/deletions", json=body, headers=W)
    assert response.status == 400
    assert (await response.json())["details"]
