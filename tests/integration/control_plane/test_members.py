"""Members and invitations: nobody is added to a project (nor an account made) without
accepting a mailed invitation; owners list and revoke them; a project never loses its
last owner."""

from pathlib import Path

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, mailed_code, signup

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}


async def new_project(client: TestClient, slug: str) -> None:
    response = await client.post("/api/projects", json={"name": slug, "slug": slug}, headers=W)
    assert response.status == 201, await response.text()


async def invite(client: TestClient, slug: str, email: str, role: str = "member") -> dict:  # type: ignore[type-arg]
    response = await client.post(
        f"/api/projects/{slug}/members", json={"email": email, "role": role}, headers=W
    )
    assert response.status == 201, await response.text()
    return (await response.json())["invitation"]  # type: ignore[no-any-return]


async def accept(client: TestClient, token: str) -> int:
    response = await client.post("/api/invitations/accept", json={"token": token}, headers=W)
    return response.status


async def test_inviting_an_address_without_account_creates_nothing_until_accepted(
    app_client: TestClient, client_for, settings: Settings, database: str
) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    await new_project(app_client, "team")
    with psycopg.connect(database) as conn:
        users_before = conn.execute("SELECT count(*) FROM users").fetchone()
    invitation = await invite(app_client, "team", "newcomer@example.com")
    assert invitation["email"] == "newcomer@example.com" and invitation["role"] == "member"
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == users_before
    shown = await (await app_client.get("/api/projects/team")).json()
    assert len(shown["project"]["members"]) == 1
    listed = await (await app_client.get("/api/projects/team/invitations")).json()
    assert [i["id"] for i in listed["invitations"]] == [invitation["id"]]

    code = await mailed_code(Path(settings.mail_dir), "newcomer@example.com", "ra_invite_")
    newcomer = await client_for()
    await signup(newcomer, "Newcomer@Example.com")
    assert await accept(newcomer, code) == 200
    assert (await newcomer.get("/api/projects/team")).status == 200
    assert await accept(newcomer, code) == 404  # once
    listed = await (await app_client.get("/api/projects/team/invitations")).json()
    assert listed == {"invitations": []}


async def test_an_existing_account_joins_only_by_accepting(
    app_client: TestClient, client_for, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    await new_project(app_client, "team")
    colleague, stranger = await client_for(), await client_for()
    email = await signup(colleague)
    await signup(stranger)
    # The answer is the same as for an address without an account: an invitation.
    await invite(app_client, "team", email, role="owner")
    assert (await colleague.get("/api/projects/team")).status == 403
    code = await mailed_code(Path(settings.mail_dir), email, "ra_invite_")
    # Only the invited address can accept (whoever else got hold of the code).
    assert await accept(stranger, code) == 403
    assert await accept(colleague, code) == 200
    shown = await (await colleague.get("/api/projects/team")).json()
    assert shown["project"]["role"] == "owner"


async def test_owners_revoke_invitations_and_members_cannot_invite(
    app_client: TestClient, client_for, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    await new_project(app_client, "team")
    invitee = await client_for()
    email = await signup(invitee)
    first = await invite(app_client, "team", email)
    first_code = await mailed_code(Path(settings.mail_dir), email, "ra_invite_")
    # Inviting again replaces the open invitation (and its code).
    second = await invite(app_client, "team", email)
    second_code = await mailed_code(Path(settings.mail_dir), email, "ra_invite_", already=1)
    assert first["id"] != second["id"]
    assert await accept(invitee, first_code) == 404
    response = await app_client.delete(f"/api/projects/team/invitations/{second['id']}", headers=W)
    assert response.status == 200
    assert await accept(invitee, second_code) == 404
    response = await app_client.delete(f"/api/projects/team/invitations/{second['id']}", headers=W)
    assert response.status == 404

    third = await invite(app_client, "team", email)
    code = await mailed_code(Path(settings.mail_dir), email, "ra_invite_", already=2)
    assert await accept(invitee, code) == 200
    # A plain member may neither invite, nor list, nor revoke.
    response = await invitee.post(
        "/api/projects/team/members", json={"email": "x@example.com"}, headers=W
    )
    assert response.status == 403
    assert (await invitee.get("/api/projects/team/invitations")).status == 403
    response = await invitee.delete(f"/api/projects/team/invitations/{third['id']}", headers=W)
    assert response.status == 403


async def test_the_last_owner_can_neither_demote_nor_remove_themselves(
    app_client: TestClient, client_for, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    owner_email = await signup(app_client)
    await new_project(app_client, "team")
    me = await (await app_client.get("/api/me")).json()
    response = await app_client.post(
        "/api/projects/team/members", json={"email": owner_email, "role": "member"}, headers=W
    )
    assert response.status == 409
    assert "at least one owner" in (await response.json())["error"]
    response = await app_client.delete(f"/api/projects/team/members/{me['user']['id']}", headers=W)
    assert response.status == 409
    shown = await (await app_client.get("/api/projects/team")).json()
    assert shown["project"]["role"] == "owner"

    # With a second owner, stepping down is fine.
    colleague = await client_for()
    email = await signup(colleague)
    await invite(app_client, "team", email, role="owner")
    code = await mailed_code(Path(settings.mail_dir), email, "ra_invite_")
    assert await accept(colleague, code) == 200
    response = await app_client.post(
        "/api/projects/team/members", json={"email": owner_email, "role": "member"}, headers=W
    )
    assert response.status == 200
    assert (await response.json())["member"]["role"] == "member"
    # Now the colleague is the last owner, and they may not leave either.
    colleague_id = (await (await colleague.get("/api/me")).json())["user"]["id"]
    response = await colleague.delete(f"/api/projects/team/members/{colleague_id}", headers=W)
    assert response.status == 409
    response = await colleague.delete(f"/api/projects/team/members/{me['user']['id']}", headers=W)
    assert response.status == 200
    assert (await app_client.get("/api/projects/team")).status == 403
