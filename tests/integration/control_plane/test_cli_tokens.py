"""The CLI token flow: one-time token → access token (once), expiry, revocation."""

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from tests.integration.control_plane.conftest import ORIGIN, cli_access_token, signup

pytestmark = pytest.mark.integration


async def new_login_token(client: TestClient) -> str:
    response = await client.post("/api/cli/tokens", headers={"Origin": ORIGIN})
    assert response.status == 201
    body = await response.json()
    assert body["expiresIn"] == 600
    return str(body["token"])


async def test_token_exchanges_once_for_a_working_bearer(
    app_client: TestClient, client_for
) -> None:  # type: ignore[no-untyped-def]
    email = await signup(app_client)
    token = await new_login_token(app_client)
    cli = await client_for()  # the CLI has no cookie
    response = await cli.post("/api/cli/validate", json={"token": token})
    assert response.status == 201
    access = (await response.json())["accessToken"]
    assert access.startswith("ra_cli_")

    me = await cli.get("/api/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status == 200
    assert (await me.json()) == {
        "user": {"id": (await me.json())["user"]["id"], "email": email},
        "auth": "bearer",
    }

    again = await cli.post("/api/cli/validate", json={"token": token})
    assert again.status == 401
    assert await again.json() == {"error": "Invalid, expired or already used CLI token"}


async def test_expired_token_is_refused(app_client: TestClient, database: str) -> None:
    await signup(app_client)
    token = await new_login_token(app_client)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE cli_login_tokens SET expires_at = now() - interval '1 second'")
    response = await app_client.post("/api/cli/validate", json={"token": token})
    assert response.status == 401


async def test_unknown_and_malformed_tokens(app_client: TestClient) -> None:
    response = await app_client.post("/api/cli/validate", json={"token": "ra_once_nope"})
    assert response.status == 401
    response = await app_client.post("/api/cli/validate", json={})
    assert response.status == 400
    for header in ("Bearer ra_cli_nope", "Bearer something", "Basic abc"):
        response = await app_client.get("/api/me", headers={"Authorization": header})
        assert response.status == 401


async def test_a_bearer_cannot_mint_cli_tokens(app_client: TestClient, client_for) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    access = await cli_access_token(app_client)
    cli = await client_for()
    response = await cli.post("/api/cli/tokens", headers={"Authorization": f"Bearer {access}"})
    assert response.status == 401


async def test_revoked_access_token_stops_working(app_client: TestClient, client_for) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    access = await cli_access_token(app_client)
    cli = await client_for()
    auth = {"Authorization": f"Bearer {access}"}
    assert (await cli.post("/api/cli/revoke", headers=auth)).status == 200
    assert (await cli.get("/api/me", headers=auth)).status == 401
