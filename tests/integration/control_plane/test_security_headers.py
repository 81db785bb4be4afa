"""Security headers on the App API origin: the JSON routes, the dashboard's pages and
assets, errors and the origin's own routes; the session cookie's attributes."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

import control_plane.app
import dashboard.app
from app_api.app import Mount, create_app
from common.security_headers import API_POLICY, PAGE_POLICY
from control_plane.settings import Settings
from dashboard.settings import Settings as DashboardSettings
from tests.integration.control_plane.conftest import PASSWORD, signup

pytestmark = pytest.mark.integration


@pytest.fixture
async def origin(settings: Settings) -> AsyncIterator[TestClient]:
    board = DashboardSettings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        kafka_bootstrap=settings.kafka_bootstrap,
        redis_prefix=settings.redis_prefix,
    )
    app = create_app(
        [
            Mount("control_plane", "/api", control_plane.app.create_app(settings)),
            Mount("dashboard", "/dashboard", dashboard.app.create_app(board)),
        ]
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


def assert_hardened(headers: object, policy: str) -> None:
    assert headers["Content-Security-Policy"] == policy  # type: ignore[index]
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"  # type: ignore[index]
    assert headers["Referrer-Policy"] == "same-origin"  # type: ignore[index]
    assert headers["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]


async def test_every_answer_of_the_origin_carries_the_headers(origin: TestClient) -> None:
    for path, policy in [
        ("/health", API_POLICY),
        ("/nope", API_POLICY),
        ("/api/me", API_POLICY),
        ("/api/nope", API_POLICY),
        ("/api/openapi.json", API_POLICY),
        ("/dashboard/", PAGE_POLICY),
        ("/dashboard/ops", PAGE_POLICY),
        ("/dashboard/static/charts.js", PAGE_POLICY),
        ("/dashboard/api/ops", PAGE_POLICY),
    ]:
        response = await origin.get(path, allow_redirects=False)
        assert_hardened(response.headers, policy)
    assert "Strict-Transport-Security" not in response.headers  # not over HTTPS here


async def test_the_session_cookie_is_httponly_and_samesite(origin: TestClient) -> None:
    email = await signup(origin)
    response = await origin.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert_hardened(response.headers, API_POLICY)


async def test_every_service_answer_names_its_request(origin: TestClient) -> None:
    """common/request_ids.py on the control plane's and the dashboard's routes, refusals
    included: the id a log line and a support ticket share."""
    for path in ("/api/me", "/api/nope", "/api/openapi.json", "/dashboard/api/ops"):
        response = await origin.get(path, headers={"X-Request-Id": "ticket-7"})
        assert response.headers["X-Request-Id"] == "ticket-7", path
    fresh = await origin.get("/api/me")
    assert len(fresh.headers["X-Request-Id"]) == 32
