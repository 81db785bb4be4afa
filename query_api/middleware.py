"""The one error middleware: exceptions → JSON bodies, never a bare 500 for bad input.

Every refusal is counted by reason (and project, once known) in ``/metrics``.
"""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from common.unavailable import unavailable_code, unavailable_response
from query_api.errors import QueryApiError, Unavailable
from query_api.keys import METRICS, PROJECT, SETTINGS

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
    except Exception as exc:
        code = unavailable_code(exc)  # a dependency's failure outside query_api.database
        if code is None:
            logger.exception("unhandled error on %s %s", request.method, request.path)
            return web.json_response({"error": "Internal server error"}, status=500)
        logger.warning("%s on %s %s: %s", code, request.method, request.path, type(exc).__name__)
        _count(request, Unavailable.reason)
        return unavailable_response(code, request.app[SETTINGS].retry_after_seconds)


def _count(request: web.Request, reason: str) -> None:
    request.app[METRICS].refusals.labels(reason, request.get(PROJECT, "")).inc()
