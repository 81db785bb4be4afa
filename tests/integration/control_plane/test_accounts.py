"""Sign-up with a confirmed address, login, logout, sessions in Redis and the Origin rule
(throttles: test_throttles.py; enumeration: test_enumeration.py)."""

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from contracts.sessions import SESSION_COOKIE, decode_session, session_key
from control_plane.settings import Settings
from tests.integration.control_plane.conftest import (
    ORIGIN,
    PASSWORD,
    mail_files,
    mailed_code,
    mails_to,
    signup,
    start,
)

pytestmark = pytest.mark.integration


def session_cookie(client: TestClient) -> str:
    cookies = {c.key: c.value for c in client.session.cookie_jar}
    return cookies[SESSION_COOKIE]


async def test_signup_mails_a_code_whose_confirmation_logs_in(
    app_client: TestClient, settings: Settings
) -> None:
    response = await app_client.post(
        "/api/auth/signup",
        json={"email": "Ada@Example.com", "password": PASSWORD},
        headers={"Origin": ORIGIN},
    )
    assert response.status == 202
    assert (await response.json())["success"] is True
    assert "Set-Cookie" not in response.headers  # not logged in before the address is proved
    assert (await app_client.get("/api/me")).status == 401
    mail_dir = Path(settings.mail_dir)
    code = await mailed_code(mail_dir, "Ada@Example.com", "ra_confirm_")
    # Until then the right password only says so.
    response = await app_client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status == 403
    assert "Confirm your email address" in (await response.json())["error"]

    response = await app_client.post("/api/auth/confirm", json={"token": code})
    assert response.status == 200
    assert (await response.json())["user"]["email"] == "Ada@Example.com"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    me = await app_client.get("/api/me")
    assert me.status == 200
    assert (await me.json())["user"]["email"] == "Ada@Example.com"
    # A code works once.
    response = await app_client.post("/api/auth/confirm", json={"token": code})
    assert response.status == 401

    # Redis holds the session under the hash of its id, with a TTL, never the id itself.
    session_id = session_cookie(app_client)
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        key = session_key(settings.redis_prefix, session_id)
        stored = decode_session(await client.get(key))
        assert stored is not None and stored.email == "Ada@Example.com"
        assert 0 < await client.ttl(key) <= settings.session_ttl_seconds
        assert session_id not in key
    finally:
        await client.aclose()
    # The mail holds the code, and the file is the server user's alone.
    [path] = mail_files(mail_dir)
    assert path.stat().st_mode & 0o077 == 0


async def test_secure_cookie_when_configured_or_over_https(settings: Settings) -> None:
    cases = [
        (replace(settings, cookie_secure=True), {}, True),
        # TLS ended at a trusted proxy (loopback by default) that says so.
        (settings, {"X-Forwarded-Proto": "https"}, True),
        # The same header from a peer that is not a trusted proxy is not believed.
        (replace(settings, trusted_proxies=()), {"X-Forwarded-Proto": "https"}, False),
        (settings, {}, False),
    ]
    for n, (configured, headers, secure) in enumerate(cases):
        client = await start(configured)
        try:
            email = await signup(client, f"s{n}@example.com")
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": PASSWORD}, headers=headers
            )
            assert response.status == 200
            assert ("Secure" in response.headers["Set-Cookie"]) is secure, (n, headers)
        finally:
            await client.close()


async def test_signing_up_again_before_confirming_sends_a_new_code(
    app_client: TestClient, settings: Settings
) -> None:
    body = {"email": "twice@example.com", "password": PASSWORD}
    for _ in range(2):
        assert (await app_client.post("/api/auth/signup", json=body)).status == 202
    mail_dir = Path(settings.mail_dir)
    first = await mailed_code(mail_dir, "twice@example.com", "ra_confirm_")
    second = await mailed_code(mail_dir, "twice@example.com", "ra_confirm_", already=1)
    assert first != second
    assert (await app_client.post("/api/auth/confirm", json={"token": second})).status == 200
    # Once confirmed, a sign-up with the address changes nothing and mails a notice.
    other = {"email": "twice@example.com", "password": "another fine passphrase"}
    assert (await app_client.post("/api/auth/signup", json=other)).status == 202
    for _ in range(100):
        if len(mails_to(mail_dir, "twice@example.com")) == 3:
            break
        await asyncio.sleep(0.05)
    notice = mails_to(mail_dir, "twice@example.com")[2]
    assert "already has an account" in notice.get_content()
    response = await app_client.post("/api/auth/login", json=other)
    assert response.status == 401


async def test_signup_validates_its_body(app_client: TestClient) -> None:
    response = await app_client.post(
        "/api/auth/signup", json={"email": "not-an-email", "password": "short", "x": 1}
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "Validation failed"
    assert {d["field"] for d in body["details"]} == {"email", "password", "x"}
    response = await app_client.post("/api/auth/signup", data=b"{nope")
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] is None


async def test_login_logout_and_wrong_password(app_client: TestClient, client_for) -> None:  # type: ignore[no-untyped-def]
    email = await signup(app_client)
    other = await client_for()
    response = await other.post("/api/auth/login", json={"email": email, "password": "wrong pw"})
    assert response.status == 401
    assert await response.json() == {"error": "Invalid email or password"}
    response = await other.post(
        "/api/auth/login", json={"email": email.upper(), "password": PASSWORD}
    )
    assert response.status == 200
    assert (await other.get("/api/me")).status == 200

    response = await other.post("/api/auth/logout", headers={"Origin": ORIGIN})
    assert response.status == 200
    assert (await other.get("/api/me")).status == 401
    # The first browser's session is its own and still valid.
    assert (await app_client.get("/api/me")).status == 200


async def test_unknown_account_answers_like_a_wrong_password(app_client: TestClient) -> None:
    response = await app_client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert response.status == 401
    assert await response.json() == {"error": "Invalid email or password"}


async def test_no_session_is_401(app_client: TestClient) -> None:
    assert (await app_client.get("/api/me")).status == 401
    response = await app_client.post("/api/cli/tokens", headers={"Origin": ORIGIN})
    assert response.status == 401
    assert await response.json() == {"error": "Authentication required"}
    app_client.session.cookie_jar.update_cookies({SESSION_COOKIE: "forged"})
    assert (await app_client.get("/api/me")).status == 401


async def test_cookie_writes_need_the_app_origin(app_client: TestClient) -> None:
    await signup(app_client)
    for headers in ({}, {"Origin": "https://evil.example"}):
        response = await app_client.post("/api/cli/tokens", headers=headers)
        assert response.status == 403
        assert await response.json() == {"error": "Origin not allowed"}
    # Reads need no Origin, but one from a foreign page is refused too (common.auth).
    assert (await app_client.get("/api/me")).status == 200
    foreign = await app_client.get("/api/me", headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    response = await app_client.post(
        "/api/auth/login",
        json={"email": "a@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403


async def test_unknown_route_is_json_404(app_client: TestClient) -> None:
    response = await app_client.get("/api/nope")
    assert response.status == 404
    assert (await response.json())["error"] == "Not Found"


async def test_a_foreign_page_cannot_confirm_an_address_or_reset_a_password(
    app_client: TestClient, settings: Settings
) -> None:
    # Login CSRF: a page elsewhere posting the attacker's own code would sign the visitor
    # into the attacker's account. The code stays usable from the App API's own origin.
    foreign = {"Origin": "https://evil.example"}
    email = "csrf@example.com"
    await app_client.post(
        "/api/auth/signup", json={"email": email, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    code = await mailed_code(Path(settings.mail_dir), email, "ra_confirm_")
    response = await app_client.post("/api/auth/confirm", json={"token": code}, headers=foreign)
    assert response.status == 403
    assert "Set-Cookie" not in response.headers
    for path, body in [
        ("/api/auth/password-reset", {"email": email}),
        ("/api/auth/password-reset/confirm", {"token": "ra_reset_x", "password": PASSWORD}),
    ]:
        assert (await app_client.post(path, json=body, headers=foreign)).status == 403
    response = await app_client.post("/api/auth/confirm", json={"token": code})
    assert response.status == 200
