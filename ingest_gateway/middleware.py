"""The one error middleware (exceptions → the contract's JSON bodies) and CORS for browsers."""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ingest_gateway.app_keys import METRICS, SETTINGS
from ingest_gateway.errors import IngestError, PayloadTooLarge

logger = logging.getLogger(__name__)

_ALLOW_HEADERS = "Content-Type, Content-Encoding, X-API-Key"
_EXPOSE_HEADERS = (
    "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"
)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        response = _refusal(request, PayloadTooLarge())
    except IngestError as exc:
        response = _refusal(request, exc)
    except web.HTTPException as exc:
        response = web.json_response({"error": exc.reason}, status=exc.status, headers=_keep(exc))
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        response = web.json_response({"error": "Internal server error"}, status=500)
    if request.path == "/" and request.method == "POST":
        request.app[METRICS].requests.labels(str(response.status)).inc()
    return response


def _refusal(request: web.Request, exc: IngestError) -> web.Response:
    count_refusal(request, exc)
    return web.json_response(exc.body, status=exc.status, headers=exc.headers)


def count_refusal(request: web.Request, exc: IngestError) -> None:
    request.app[METRICS].refused.labels(exc.reason, exc.project or "").inc()


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    origin = request.headers.get("Origin")
    allowed = request.app[SETTINGS].cors_origins
    if origin and ("*" in allowed or origin in allowed):
        response.headers["Access-Control-Allow-Origin"] = origin if "*" not in allowed else "*"
        response.headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
        response.headers["Vary"] = "Origin"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = _ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = "86400"
    return response
