"""The one error middleware: exceptions → JSON bodies, never a bare 500 for bad input.

Every refusal is counted by reason (and project, once known) in ``/metrics``.
"""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from query_api.errors import QueryApiError
from query_api.keys import METRICS, PROJECT

logger = logging.getLogger(__name__)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueryApiError as exc:
        _count(request, exc.reason)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return web.json_response(exc.body, status=exc.status, headers=headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        _count(request, f"http_{exc.status}")
        return web.json_response({"error": exc.reason}, status=exc.status)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal server error"}, status=500)


def _count(request: web.Request, reason: str) -> None:
    request.app[METRICS].refusals.labels(reason, request.get(PROJECT, "")).inc()
