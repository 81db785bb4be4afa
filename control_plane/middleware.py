"""The one error middleware: exceptions → JSON bodies, never a bare 500 for bad input."""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from common.unavailable import unavailable_code, unavailable_response
from control_plane.errors import ControlPlaneError
from control_plane.keys import METRICS

logger = logging.getLogger(__name__)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ControlPlaneError as exc:
        response = web.json_response(exc.body, status=exc.status, headers=exc.headers)
    except web.HTTPRequestEntityTooLarge:
        response = web.json_response({"error": "Payload too large"}, status=413)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = web.json_response({"error": exc.reason}, status=exc.status)
    except Exception as exc:
        code = unavailable_code(exc)
        if code is None:
            logger.exception("unhandled error on %s %s", request.method, request.path)
            response = web.json_response({"error": "Internal server error"}, status=500)
        else:
            logger.warning(
                "%s on %s %s: %s", code, request.method, request.path, type(exc).__name__
            )
            response = unavailable_response(code)
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    request.app[METRICS].requests.labels(name, str(response.status)).inc()
    return response
