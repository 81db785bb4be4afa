"""Serving the gateway: an idle/header timeout, a listen backlog and a cap on open connections.

aiohttp closes a connection that has not sent a whole request head within its
``keepalive_timeout`` of opening (or of its last answer), so that one setting is both the
header timeout and the idle timeout. It has no cap on connections, so ``CappedSite`` keeps
one: past the cap a new connection is answered 503 with ``Retry-After`` and closed at once,
which keeps file descriptors for Kafka, Redis and PostgreSQL however many clients connect.

A request aiohttp's own parser refuses (a control character in a header, a bad
Content-Length, not HTTP at all) never reaches the app's middlewares: aiohttp answers it in
plain text and logs the refusal with a traceback, which can quote the header — a key. Each
connection's handler answers it instead as the app answers any refusal (``json_refusal``):
a JSON body, counted in ``ingest_refused_total{reason="malformed_http"}``, one log line
with no part of the request.
"""

import asyncio
import logging
import resource
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ingest_gateway.app_keys import METRICS
from ingest_gateway.settings import Settings

logger = logging.getLogger(__name__)

FD_RESERVE = 256  # descriptors kept for the clients of Kafka, Redis, PostgreSQL and logs

_BODY = b'{"error": "Service unavailable"}'
_OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


def json_refusals(on_malformed: Callable[[], None]) -> type[RequestHandler]:
    """aiohttp's connection handler whose ``handle_error`` answers a refusal in JSON,
    counts it, and logs one line naming only the status and the kind of error."""

    class JsonRefusals(RequestHandler):
        __slots__ = ()

        def handle_error(
            self,
            request: BaseRequest,
            status: int = 500,
            exc: BaseException | None = None,
            message: str | None = None,
        ) -> web.StreamResponse:
            kind = type(exc).__name__ if exc is not None else "unknown"
            if request.writer.output_size > 0:  # an answer is under way: only closing is left
                raise ConnectionError(f"the connection broke mid-answer ({kind})")
            if status >= 500:
                logger.error("request failed in the HTTP layer: %d %s", status, kind)
                body: dict[str, Any] = {"error": "Service unavailable"}
            else:
                on_malformed()
                logger.warning("malformed HTTP request refused: %d %s", status, kind)
                body = {"error": "Malformed HTTP request", "message": HTTPStatus(status).phrase}
            response = web.json_response(body, status=status)
            response.force_close()
            return response

    return JsonRefusals


def handler_options(settings: Settings) -> dict[str, Any]:
    """aiohttp's per-connection settings, as ``ingest_gateway.__main__`` serves them."""
    return {
        "access_log": None,
        "auto_decompress": False,  # ingest_gateway.body decodes, with the contract's errors
        "keepalive_timeout": settings.idle_timeout_seconds,
    }


def connection_cap(configured: int, open_files_limit: int, reserve: int = FD_RESERVE) -> int:
    """The connections the gateway can hold: the setting, within the descriptors it has."""
    return max(1, min(configured, open_files_limit - reserve))


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (an OS setting) and return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class _Refusal(asyncio.Protocol):
    """Answers 503 and closes: the response first, then a half-close, so the client reads the
    answer rather than a reset."""

    def __init__(self, linger_seconds: float) -> None:
        self._linger = linger_seconds

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.write(_OVER_CAPACITY)
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(self._linger, transport.abort)

    def eof_received(self) -> bool:
        return False  # close our side too


class CappedSite(web.TCPSite):
    """A TCP site that holds at most ``max_connections`` connections at once."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        backlog: int,
        max_connections: int,
        reuse_port: bool = False,
        on_refused: Callable[[], None] = lambda: None,
        on_malformed: Callable[[], None] = lambda: None,
        handler_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(runner, host, port, backlog=backlog, reuse_port=reuse_port)
        self._max_connections = max_connections
        self._on_refused = on_refused
        self._handler = json_refusals(on_malformed)
        self._handler_options = handler_options or {}

    async def start(self) -> None:
        await web.BaseSite.start(self)  # register with the runner; listen below, capped
        server = self._runner.server
        assert server is not None
        cap, refused = self._max_connections, self._on_refused
        handler, options, loop = self._handler, self._handler_options, asyncio.get_running_loop()

        def protocol() -> asyncio.BaseProtocol:
            if len(server.connections) >= cap:
                refused()
                return _Refusal(linger_seconds=1.0)
            return handler(server, loop=loop, **options)  # as server() makes one

        self._server = await asyncio.get_running_loop().create_server(
            protocol, self._host, self._port, backlog=self._backlog, reuse_port=self._reuse_port
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def start_site(
    app: web.Application, settings: Settings, max_connections: int
) -> web.AppRunner:
    """Serve ``app`` on the settings' host and port (port 0: any free one); the runner's
    ``addresses`` say where, its ``cleanup`` stops it. A site that cannot start (a busy
    port) cleans the app up before the error goes on: its clients are closed."""
    options = handler_options(settings)
    runner = web.AppRunner(app, handle_signals=False, **options)
    await runner.setup()
    refused = app[METRICS].refused
    site = CappedSite(
        runner,
        settings.host,
        settings.port,
        backlog=settings.backlog,
        max_connections=max_connections,
        reuse_port=settings.reuse_port,
        on_refused=refused.labels("over_capacity", "").inc,
        on_malformed=refused.labels("malformed_http", "").inc,
        handler_options=options,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
