"""HTTP handlers: thin — read the request, call the ingestor, write the contract's answer."""

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.health import readiness
from common.request_ids import REQUEST_ID
from ingest_gateway.app_keys import APPENDER, INGESTOR, METRICS, OPENAPI, REDIS, SETTINGS
from ingest_gateway.body import decode_body
from ingest_gateway.errors import PayloadTooLarge, RequestTimeout
from ingest_gateway.ingest import request_context


async def ingest(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    context = request_context(
        request.headers, request.remote, settings.trusted_proxies, request.get(REQUEST_ID)
    )
    raw = await read_body(request)
    body = decode_body(raw, request.headers.get("Content-Encoding"), settings.max_body_bytes)
    accepted = await request.app[INGESTOR].ingest(body, context)
    return web.json_response({"success": True, "events": accepted.count}, headers=accepted.headers)


async def read_body(request: web.Request) -> bytes:
    """The raw body, within the size limit and the body timeout (a client that trickles its
    body holds a connection; it gets a bounded time)."""
    try:
        async with asyncio.timeout(request.app[SETTINGS].body_timeout_seconds):
            return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge() from exc
    except TimeoutError as exc:
        raise RequestTimeout() from exc


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def ready(request: web.Request) -> web.Response:
    app = request.app
    return await readiness({"kafka": app[APPENDER].ready(), "redis": app[REDIS].ping()})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
