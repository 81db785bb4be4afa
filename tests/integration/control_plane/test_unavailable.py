"""Redis or PostgreSQL out of reach is a 503 with a code and Retry-After, never a 500."""

import socket
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from control_plane.app import MOUNT_PREFIX, create_app
from control_plane.app_keys import POOL
from control_plane.settings import Settings
from tests.integration.control_plane.conftest import PASSWORD, start

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_redis_down_is_503(settings: Settings) -> None:
    client = await start(replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    try:
        for method, path, body in [
            ("GET", "/api/me", None),
            ("POST", "/api/auth/login", {"email": "a@example.com", "password": PASSWORD}),
        ]:
            response = await client.request(
                method, path, json=body, cookies={"ra_session": "some-session"}
            )
            assert response.status == 503, await response.text()
            assert response.headers["Retry-After"] == "2"
            assert await response.json() == {
                "error": "Service unavailable",
                "code": "REDIS_UNAVAILABLE",
            }
    finally:
        await client.close()


async def test_database_busy_is_503(settings: Settings) -> None:
    # One connection, held by the test: the next request waits out the pool timeout.
    app = create_app(replace(settings, db_pool_size=1, db_pool_timeout_seconds=0.5))
    root = web.Application()
    root.add_subapp(MOUNT_PREFIX, app)
    client = TestClient(TestServer(root, host="127.0.0.1"))
    await client.start_server()
    try:
        async with app[POOL].connection():
            response = await client.post(
                "/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}
            )
        assert response.status == 503, await response.text()
        assert (await response.json())["code"] == "DATABASE_BUSY"
        assert response.headers["Retry-After"] == "2"
    finally:
        await client.close()
