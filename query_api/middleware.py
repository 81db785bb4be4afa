"""The one error middleware: exceptions → JSON bodies, never a bare 500 for bad input."""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from query_api.errors import QueryApiError

logger = logging.getLogger(__name__)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueryApiError as exc:
        return web.json_response(exc.body, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal server error"}, status=500)
