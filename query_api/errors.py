"""The query API's exception root; the error middleware turns each into a JSON body."""

from typing import Any

# One 400 lists at most this many problems (plus how many it left out), and each field
# path at most this many characters: a hostile body cannot make a large error body.
MAX_DETAILS = 100
MAX_FIELD_CHARS = 200


class QueryApiError(Exception):
    status = 400
    # Why the request was refused, for the refusals counter in /metrics.
    reason = "invalid"
    # Seconds a client should wait before retrying (the Retry-After header), if any.
    retry_after: int | None = None

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("error", "error"))
        self.body = body


def capped(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of a 400: the first MAX_DETAILS details, and how many were left out."""
    kept = [
        {**d, "field": d["field"][:MAX_FIELD_CHARS]} if isinstance(d.get("field"), str) else d
        for d in details[:MAX_DETAILS]
    ]
    body: dict[str, Any] = {"error": "Validation failed", "details": kept}
    if len(details) > MAX_DETAILS:
        body["omittedDetails"] = len(details) - MAX_DETAILS
    return body


class ValidationFailed(QueryApiError):
    status = 400
    reason = "validation"

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__(capped(details))


class Forbidden(QueryApiError):
    """Also the answer for a project that does not exist: the two are indistinguishable."""

    status = 403
    reason = "forbidden"

    def __init__(self, message: str = "Forbidden") -> None:
        super().__init__({"error": message})


class ConcurrencyLimited(QueryApiError):
    """The project already runs and queues as many queries as this process allows it."""

    status = 429
    reason = "concurrency_limit"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            {
                "error": "Too many concurrent queries for this project",
                "code": "QUERY_CONCURRENCY_LIMIT",
            }
        )
        self.retry_after = retry_after


class QueryTimeout(QueryApiError):
    """A statement ran past the statement timeout; PostgreSQL cancelled it."""

    status = 503
    reason = "timeout"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            {"error": "Query took too long; narrow the date range", "code": "QUERY_TIMEOUT"}
        )
        self.retry_after = retry_after


class Unavailable(QueryApiError):
    """A dependency cannot be reached or has no connection to spare in time; ``code`` says
    which (``common.unavailable``: DATABASE_UNAVAILABLE, DATABASE_BUSY, REDIS_UNAVAILABLE)."""

    status = 503
    reason = "unavailable"

    def __init__(self, retry_after: int, code: str) -> None:
        super().__init__({"error": "Service unavailable", "code": code})
        self.retry_after = retry_after
