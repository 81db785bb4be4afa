"""The query API's error middleware: ``common.errors``' with its exception root, and every
refusal counted by reason (and project, once known) in ``/metrics``."""

from aiohttp import web

from common.errors import INTERNAL, Reason, json_errors
from query_api.app_keys import METRICS, PROJECT, SETTINGS
from query_api.errors import QueryApiError


def answer(exc: QueryApiError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return web.json_response(exc.body, status=exc.status, headers=headers)


def count_refusal(request: web.Request, response: web.StreamResponse, reason: Reason) -> None:
    """Answers are counted by the handler; a bug's 500 is in the log, not a refusal."""
    if reason is not None and reason != INTERNAL:
        request.app[METRICS].refusals.labels(reason, request.get(PROJECT, "")).inc()


errors = json_errors(
    QueryApiError,
    answer,
    reason=lambda exc: exc.reason,
    retry_after=lambda request: request.app[SETTINGS].retry_after_seconds,
    observe=count_refusal,
)
