"""Garbage in cookies, headers and bodies is a 4xx with a JSON body, never a 500."""

import pytest
from aiohttp.test_utils import TestClient

from tests.integration.control_plane.conftest import ORIGIN, signup
from tests.integration.control_plane.raw_http import raw_request

pytestmark = pytest.mark.integration

GARBAGE_CREDENTIALS = [
    b"Cookie: ra_session=\xff\xfe\x80abc",
    b"Cookie: ra_session=ok\xc3(",
    b"Authorization: Bearer ra_cli_\xff\xfe",
    b"Authorization: Bearer ra_cli_" + "é".encode() * 40,
]
ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/projects"),
    ("POST", "/api/projects"),
    ("POST", "/api/cli/tokens"),
    ("POST", "/api/deploy"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/projects/shop/config"),
]


@pytest.mark.parametrize("header", GARBAGE_CREDENTIALS)
async def test_non_utf8_credentials_are_401(app_client: TestClient, header: bytes) -> None:
    port = app_client.server.port
    assert port is not None
    for method, path in ROUTES:
        if path == "/api/auth/logout" and header.startswith(b"Authorization"):
            continue  # logging out without a session cookie is a no-op, 200
        body = b'{"projectId": "shop", "config": {}}' if path == "/api/deploy" else b"{}"
        status, answer = await raw_request(port, method, path, [header], body)
        assert status == 401, (method, path, answer)
        assert isinstance(answer, dict) and answer["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", {"email": "a\u0000@example.com", "password": "x"}),
        ("/api/auth/signup", {"email": "a@example.com", "password": "pass\u0000word-long"}),
        ("/api/projects", {"name": "N\u0000", "slug": "nul-name"}),
        ("/api/projects", {"name": "N", "slug": "nul-plan", "plan": "free\u0000"}),
        ("/api/cli/validate", {"token": "ra_once_\u0000"}),
    ],
)
async def test_nul_characters_in_bodies_are_400(
    app_client: TestClient, path: str, body: dict[str, str]
) -> None:
    await signup(app_client)
    response = await app_client.post(path, json=body, headers={"Origin": ORIGIN})
    assert response.status == 400, await response.text()
    answer = await response.json()
    assert answer["error"] == "Validation failed"
    assert any("NUL" in d["message"] for d in answer["details"]), answer
