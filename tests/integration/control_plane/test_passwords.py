"""The password rule (length, not common) on sign-up and reset, and the reset flow."""

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import (
    ORIGIN,
    PASSWORD,
    cli_access_token,
    mailed_code,
    signup,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Length must be between 10 and 256."),
        ("password123", "Too easy to guess: This is a very common password."),
        ("qwertyuiop", "Too easy to guess: This is a top-100 common password."),
        ("Password1234", "Too easy to guess: This is similar to a commonly used password."),
        ("ada@example.com", "Must not be your email address."),
    ],
)
async def test_signup_refuses_short_and_common_passwords(
    app_client: TestClient, password: str, message: str
) -> None:
    response = await app_client.post(
        "/api/auth/signup", json={"email": "ada@example.com", "password": password}
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "Validation failed"
    [detail] = body["details"]
    assert detail["field"] == "password" and detail["message"].startswith(message)


async def test_a_password_reset_sets_a_new_password_once(
    app_client: TestClient, client_for, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    email = await signup(app_client)
    access = await cli_access_token(app_client)
    response = await app_client.post("/api/auth/password-reset", json={"email": email.upper()})
    assert response.status == 202
    code = await mailed_code(Path(settings.mail_dir), email, "ra_reset_")
    response = await app_client.post(
        "/api/auth/password-reset/confirm", json={"token": code, "password": "iloveyou12"}
    )
    assert response.status == 400  # the same rule
    new = "a different long passphrase"
    response = await app_client.post(
        "/api/auth/password-reset/confirm", json={"token": code, "password": new}
    )
    assert response.status == 200
    response = await app_client.post(
        "/api/auth/password-reset/confirm", json={"token": code, "password": new + "!"}
    )
    assert response.status == 401
    other = await client_for()
    old = await other.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status == 401
    fresh = await other.post(
        "/api/auth/login", json={"email": email, "password": new}, headers={"Origin": ORIGIN}
    )
    assert fresh.status == 200
    # Whoever held a CLI token before the reset holds nothing now.
    me = await other.get("/api/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status == 401
