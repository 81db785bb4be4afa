"""The one error middleware: what each kind of failure is answered with, and why."""

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler
from psycopg_pool import PoolTimeout

from common.errors import INTERNAL, UNAVAILABLE, Reason, json_errors


class ServiceError(Exception):
    status = 418

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def answer(exc: ServiceError) -> web.Response:
    return web.json_response({"error": exc.message, "mine": True}, status=exc.status)


def failing(exc: BaseException) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def app_for(observed: list[tuple[str, int, Reason]]) -> web.Application:
    def observe(request: web.Request, response: web.StreamResponse, reason: Reason) -> None:
        observed.append((request.path, response.status, reason))

    errors = json_errors(
        ServiceError,
        answer,
        reason=lambda exc: f"mine:{exc.message}",
        retry_after=lambda request: 7,
        observe=observe,
    )
    app = web.Application(middlewares=[errors], client_max_size=10)
    routes: dict[str, Handler] = {
        "/ok": ok,
        "/mine": failing(ServiceError("teapot")),
        "/busy": failing(PoolTimeout("no connection in time")),
        "/bug": failing(KeyError("x")),
        "/moved": failing(web.HTTPFound("/ok")),
    }
    for path, handler in routes.items():
        app.router.add_get(path, handler)

    async def body(request: web.Request) -> web.Response:
        return web.json_response({"size": len(await request.read())})

    app.router.add_post("/body", body)
    return app


async def test_each_failure_gets_its_json_answer_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observed: list[tuple[str, int, Reason]] = []
    async with TestClient(TestServer(app_for(observed))) as client:
        ok = await client.get("/ok")
        assert (ok.status, await ok.json()) == (200, {"ok": True})

        mine = await client.get("/mine")
        assert (mine.status, await mine.json()) == (418, {"error": "teapot", "mine": True})

        missing = await client.get("/nope")
        assert (missing.status, await missing.json()) == (404, {"error": "Not Found"})

        large = await client.post("/body", data=b"x" * 100)
        assert (large.status, await large.json()) == (413, {"error": "Payload too large"})

        busy = await client.get("/busy")
        assert busy.status == 503 and busy.headers["Retry-After"] == "7"
        assert await busy.json() == {"error": "Service unavailable", "code": "DATABASE_BUSY"}

        with caplog.at_level(logging.ERROR, logger="common.errors"):
            bug = await client.get("/bug")
        assert (bug.status, await bug.json()) == (500, {"error": "Internal server error"})
        assert "unhandled error on GET /bug" in caplog.text

        moved = await client.get("/moved", allow_redirects=False)
        assert moved.status == 302  # not an error: passed through, and not observed

    assert observed == [
        ("/ok", 200, None),
        ("/mine", 418, "mine:teapot"),
        ("/nope", 404, "http_404"),
        ("/body", 413, "http_413"),
        ("/busy", 503, UNAVAILABLE),
        ("/bug", 500, INTERNAL),
    ]
