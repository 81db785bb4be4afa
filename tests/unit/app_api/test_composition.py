"""The App API mounts each service at its prefix; the longest prefix wins."""

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app_api.app import Mount, create_app, mounts_from_environment


def service(name: str, path: str) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"service": name})

    app = web.Application()
    app.router.add_post(path, handler)
    return app


async def test_both_services_answer_on_one_origin() -> None:
    root = create_app(
        [
            Mount("control_plane", "/api", service("control_plane", "/auth/login")),
            Mount("query_api", "/api/query", service("query_api", "")),
        ]
    )
    async with TestClient(TestServer(root)) as client:
        assert (await (await client.post("/api/auth/login")).json())["service"] == "control_plane"
        assert (await (await client.post("/api/query")).json())["service"] == "query_api"
        assert (await client.get("/health")).status == 200


def test_every_service_is_mounted_at_its_prefix() -> None:
    mounts = mounts_from_environment()
    assert [(m.name, m.prefix) for m in mounts] == [
        ("control_plane", "/api"),
        ("query_api", "/api/query"),
        ("dashboard", "/dashboard"),
    ]
