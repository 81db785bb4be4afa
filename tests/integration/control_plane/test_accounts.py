"""Sign-up, login, logout, sessions in Redis, login throttling and the Origin rule."""

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from contracts.sessions import SESSION_COOKIE, decode_session, session_key
from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, PASSWORD, signup

pytestmark = pytest.mark.integration


def session_cookie(client: TestClient) -> str:
    cookies = {c.key: c.value for c in client.session.cookie_jar}
    return cookies[SESSION_COOKIE]


async def test_signup_sets_a_session_cookie_and_me_answers(
    app_client: TestClient, settings: Settings
) -> None:
    response = await app_client.post(
        "/api/auth/signup",
        json={"email": "Ada@Example.com", "password": PASSWORD},
        headers={"Origin": ORIGIN},
    )
    assert response.status == 201
    assert (await response.json())["user"]["email"] == "Ada@Example.com"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie

    me = await app_client.get("/api/me")
    assert me.status == 200
    assert (await me.json())["user"]["email"] == "Ada@Example.com"

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


async def test_secure_cookie_when_configured(client_for, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.integration.control_plane.conftest import start

    client = await start(replace(settings, cookie_secure=True))
    try:
        response = await client.post(
            "/api/auth/signup", json={"email": "s@example.com", "password": PASSWORD}
        )
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        await client.close()


async def test_emails_are_unique_whatever_their_case(app_client: TestClient) -> None:
    await signup(app_client, "bob@example.com")
    response = await app_client.post(
        "/api/auth/signup", json={"email": "BOB@example.com", "password": PASSWORD}
    )
    assert response.status == 409
    assert (await response.json()) == {"error": "An account with this email already exists"}


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


async def test_login_is_throttled_per_account(app_client: TestClient) -> None:
    email = await signup(app_client)
    for _ in range(3):  # login_failures_per_account=3 in these settings
        response = await app_client.post(
            "/api/auth/login", json={"email": email, "password": "wrong pw"}
        )
        assert response.status == 401
    # Now even the right password waits.
    response = await app_client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900
    assert (await response.json()) == {"error": "Too many login attempts"}


async def test_login_is_throttled_per_ip(app_client: TestClient) -> None:
    email = await signup(app_client)
    for n in range(5):  # login_failures_per_ip=5, spread over accounts
        await app_client.post(
            "/api/auth/login", json={"email": f"x{n}@example.com", "password": "wrong pw"}
        )
    response = await app_client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status == 429


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
