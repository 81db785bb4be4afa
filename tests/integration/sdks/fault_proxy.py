"""A tiny HTTP proxy in front of the real gateway that can answer a scripted fault first.

``proxy.fail_next(503, retry_after=1)`` makes the next request get that answer without
reaching the gateway; every other request is forwarded as it came. Each request is
recorded (arrival time, status answered), so tests can check when clients retried.
"""

import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

_FORWARDED = ("Content-Type", "Content-Encoding", "X-API-Key", "Origin", "User-Agent")
_FAULT_BODIES = {
    503: {"error": "Service unavailable"},
    429: {"error": "Rate limit exceeded"},
    500: {"error": "Internal server error"},
}


@dataclass
class Seen:
    at: float
    method: str
    content_type: str
    body: bytes
    status: int = 0
    retry_after: str | None = None  # the answer's Retry-After
    answered_at: float = 0.0


@dataclass
class FaultProxy:
    upstream: str
    faults: list[tuple[int, dict[str, str], object]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    _server: TestServer | None = None
    _session: aiohttp.ClientSession | None = None

    def fail_next(self, status: int, retry_after: int | None = None, body: object = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.faults.append((status, headers, body or _FAULT_BODIES.get(status, {})))

    def posts(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.method == "POST"]

    async def start(self) -> "FaultProxy":
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._server = TestServer(app, host="127.0.0.1")
        # Forward bodies as they came (gzip stays gzip, for the gateway to decode).
        await self._server.start_server(auto_decompress=False)
        self.url = str(self._server.make_url("/"))
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen = Seen(time.monotonic(), request.method, request.content_type, body)
        self.seen.append(seen)
        if request.method == "POST" and self.faults:
            status, headers, payload = self.faults.pop(0)
            seen.status, seen.answered_at = status, time.monotonic()
            seen.retry_after = headers.get("Retry-After")
            cors = {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Expose-Headers": "Retry-After",
            }
            return web.json_response(payload, status=status, headers={**headers, **cors})
        assert self._session is not None
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        for name in ("Access-Control-Request-Method", "Access-Control-Request-Headers"):
            if name in request.headers:
                headers[name] = request.headers[name]
        async with self._session.request(
            request.method, self.upstream, data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            seen.status, seen.answered_at = upstream.status, time.monotonic()
            seen.retry_after = upstream.headers.get("Retry-After")
            kept = {
                name: value
                for name, value in upstream.headers.items()
                if name.lower().startswith("access-control-")
                or name.lower() in ("content-type", "retry-after", "vary")
            }
            return web.Response(body=payload, status=upstream.status, headers=kept)
