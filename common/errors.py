"""The one JSON error middleware every App API service installs: exceptions become JSON
bodies, never a bare 500 for bad input and never an HTML page of aiohttp's.

Each service passes its exception root and how one becomes its contract's answer; the
rest is the same everywhere: ``common.auth``'s refusals as ``{"error": message}`` with
their 401 or 403, aiohttp's own 4xx as ``{"error": reason}`` (a body over
``client_max_size`` as ``{"error": "Payload too large"}``), a shared dependency's failure
as the 503 of ``common.unavailable`` with Retry-After, and anything else as a logged 500.
A service that counts its answers passes ``observe``, called once for each answer with
why it was given (``Reason``).

The ingest gateway keeps its own: it answers with the ingest contract's bodies.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from common.auth import Refused
from common.unavailable import RETRY_AFTER_SECONDS, unavailable_code, unavailable_response

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=Exception)

# Why an answer was given, for ``observe``: ``None`` for the handler's own answer; the
# service's ``reason`` of one of its errors, or a ``common.auth.Refused``'s;
# ``http_<status>`` for aiohttp's 4xx; ``UNAVAILABLE`` for a dependency's failure and
# ``INTERNAL`` for a bug.
Reason = str | None
UNAVAILABLE = "unavailable"
INTERNAL = "internal"

Observe = Callable[[web.Request, web.StreamResponse, Reason], None]


def json_errors(
    root: type[E],
    answer: Callable[[E], web.Response],
    *,
    reason: Callable[[E], str] = lambda exc: type(exc).__name__,
    retry_after: Callable[[web.Request], int] = lambda request: RETRY_AFTER_SECONDS,
    observe: Observe | None = None,
) -> Middleware:
    """The middleware: ``root``'s exceptions through ``answer``; ``retry_after`` is the
    service's Retry-After for a dependency's 503."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        why: Reason
        try:
            response, why = await handler(request), None
        except root as exc:
            response, why = answer(exc), reason(exc)
        except Refused as exc:
            response = web.json_response({"error": exc.message}, status=exc.status)
            why = exc.reason
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # redirects and the like are answers, not errors
            response, why = http_error(exc), f"http_{exc.status}"
        except Exception as exc:
            response, why = failure(request, exc, retry_after(request))
        if observe is not None:
            observe(request, response, why)
        return response

    return errors


def http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusal (no route, wrong method, a body too large) as JSON."""
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return web.json_response({"error": "Payload too large"}, status=exc.status)
    return web.json_response({"error": exc.reason}, status=exc.status)


def failure(request: web.Request, exc: Exception, retry_after: int) -> tuple[web.Response, str]:
    """A dependency's failure as a 503 that says which (logged by name only: a message can
    hold a query's parameters), anything else as a 500 with the traceback logged."""
    code = unavailable_code(exc)
    if code is None:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal server error"}, status=500), INTERNAL
    logger.warning("%s on %s %s: %s", code, request.method, request.path, type(exc).__name__)
    return unavailable_response(code, retry_after), UNAVAILABLE
