"""The drop-in routes' handler: read, translate, ingest as ``POST /`` does, answer in the
format's own words (its refusals counted in ``ingest_refused_total`` like ours)."""

import dataclasses
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.request_ids import REQUEST_ID
from ingest_gateway.app_keys import INGESTOR, METRICS, SETTINGS
from ingest_gateway.body import decode_body
from ingest_gateway.dropin.wire import WireFormat, WireRequest
from ingest_gateway.errors import IngestError
from ingest_gateway.handlers import read_body
from ingest_gateway.ingest import request_context
from ingest_gateway.middleware import count_refusal

Handler = Callable[[web.Request], Awaitable[web.Response]]


def dropin_handler(wire_format: WireFormat) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        app = request.app
        settings = app[SETTINGS]
        wire = WireRequest(
            path=request.path,
            body=b"",
            content_type=request.content_type,
            query=dict(request.query),
            authorization=request.headers.get("Authorization"),
        )
        try:
            # The key is the format's own field, never our X-API-Key header.
            context = dataclasses.replace(
                request_context(
                    request.headers,
                    request.remote,
                    settings.trusted_proxies,
                    request.get(REQUEST_ID),
                ),
                header_key=None,
            )
            limit = min(wire_format.max_body_bytes, settings.max_body_bytes)
            body = decode_body(
                await read_body(request), request.headers.get("Content-Encoding"), limit
            )
            wire = dataclasses.replace(wire, body=body)
            translated = wire_format.translate(wire)
            accepted = await app[INGESTOR].ingest_translated(translated, context)
        except IngestError as exc:
            count_refusal(request, exc)
            response = wire_format.refused(wire, exc)
            response.headers.update(exc.headers)
        else:
            response = wire_format.accepted(wire, accepted.count)
            response.headers.update(accepted.headers)
        app[METRICS].dropin_requests.labels(wire_format.name, str(response.status)).inc()
        return response

    return handle


def add_routes(app: web.Application, formats: list[WireFormat]) -> None:
    for wire_format in formats:
        handle = dropin_handler(wire_format)
        for path in wire_format.paths:
            app.router.add_post(path, handle)
            app.router.add_route("OPTIONS", path, _preflight)


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)
