"""A request id on every request and every log line of it, from the gateway to the worker.

Each request gets an id: the caller's ``X-Request-Id`` when it is a plain token (1-64 of
letters, digits, ``.``, ``_``, ``-``: a load balancer's or the client's own), else a new
one. It is answered in ``X-Request-Id``, bound to the request's task for the log lines
(``common.logs`` puts it on each), and the gateway writes it on every record it appends as
the Kafka header ``contracts.events.REQUEST_ID_HEADER``, which the workers log with what
they do to that record (a dead letter, say): one id from the HTTP answer to the worker.
"""

import re
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

HEADER = "X-Request-Id"
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID = web.RequestKey("request_id", str)


def request_id(incoming: str | None) -> str:
    """The caller's id when it is a plain token, else a new one (32 hex digits)."""
    if incoming is not None and _TOKEN.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: the id is bound before any other runs, so every line of the
    request carries it, and it is on every answer, refusals included."""
    rid = request_id(request.headers.get(HEADER))
    request[REQUEST_ID] = rid
    with structlog.contextvars.bound_contextvars(request_id=rid):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers[HEADER] = rid
            raise
    response.headers[HEADER] = rid
    return response
