"""The dashboard's exception root; the error middleware turns each into a JSON body."""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from common.unavailable import unavailable_code, unavailable_response

logger = logging.getLogger(__name__)


class DashboardError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(DashboardError):
    status = 401


class Forbidden(DashboardError):
    status = 403


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DashboardError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    except Exception as exc:
        code = unavailable_code(exc)
        if code is not None:
            logger.warning(
                "%s on %s %s: %s", code, request.method, request.path, type(exc).__name__
            )
            return unavailable_response(code)
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal server error"}, status=500)
