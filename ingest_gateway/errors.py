"""The gateway's exception root; the error middleware turns each into the contract's body.

Each refusal names its ``reason`` (a label of ``ingest_refused_total``) and, once the key
resolved, the ``project`` it was for.
"""

import json
from collections.abc import Sequence
from typing import Any

MAX_DETAILS = 100
MAX_DETAIL_TEXT = 200  # characters of one detail's field or message
# The details of one 400 stay within this many bytes as sent (JSON, non-ASCII escaped), so
# the whole body stays under 64 KiB whatever the request or the deployed tracking plan.
MAX_DETAILS_BYTES = 60 * 1024


class IngestError(Exception):
    status = 400
    reason = "invalid"

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error", "error"))
        self.body = body
        self.headers = headers or {}
        self.project: str | None = None


class ValidationFailed(IngestError):
    """400 with at most MAX_DETAILS details; ``omittedDetails`` counts those left out."""

    status = 400

    def __init__(
        self,
        details: Sequence[dict[str, Any]],
        total: int | None = None,
        reason: str = "validation",
    ) -> None:
        shown = bounded_details(details)
        body: dict[str, Any] = {"error": "Validation failed", "details": shown}
        total = len(details) if total is None else total
        if total > len(shown):
            body["omittedDetails"] = total - len(shown)
        super().__init__(body)
        self.reason = reason


def bounded_details(details: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first details that fit MAX_DETAILS and MAX_DETAILS_BYTES, their texts cut."""
    shown: list[dict[str, Any]] = []
    size = 0
    for detail in details[:MAX_DETAILS]:
        clean = {name: clean_text(value) for name, value in detail.items()}
        size += len(json.dumps(clean)) + 2
        if size > MAX_DETAILS_BYTES:
            break
        shown.append(clean)
    return shown


def clean_text(value: Any) -> Any:
    """Strings cut to MAX_DETAIL_TEXT and made valid Unicode (a header's undecodable bytes
    arrive as lone surrogates, which no JSON parser should be sent)."""
    if not isinstance(value, str):
        return value
    if len(value) > MAX_DETAIL_TEXT:
        value = value[:MAX_DETAIL_TEXT] + "…"
    return valid_text(value)


def valid_text(value: str) -> str:
    """``value`` with any undecodable bytes (lone surrogates) as U+FFFD."""
    if value.isascii():
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")  # how aiohttp decoded header bytes
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogatepass")  # any other lone surrogate
    return raw.decode("utf-8", "replace")


class InvalidApiKey(IngestError):
    status = 401
    reason = "invalid_key"

    def __init__(self) -> None:
        super().__init__({"error": "Invalid API key"})


class OriginNotAllowed(IngestError):
    status = 403
    reason = "origin"

    def __init__(self) -> None:
        super().__init__({"error": "Origin not allowed"})


class PayloadTooLarge(IngestError):
    status = 413
    reason = "too_large"

    def __init__(self) -> None:
        super().__init__({"error": "Payload too large"})


class UnsupportedEncoding(IngestError):
    status = 415
    reason = "bad_encoding"

    def __init__(self, encoding: str) -> None:
        super().__init__(
            {
                "error": "Unsupported Content-Encoding",
                "details": [{"index": None, "field": None, "message": valid_text(encoding[:50])}],
            }
        )


class RequestTimeout(IngestError):
    status = 408
    reason = "timeout"

    def __init__(self) -> None:
        super().__init__({"error": "Request timeout"}, {"Connection": "close"})


class RateLimited(IngestError):
    status = 429
    reason = "rate_limited"

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__({"error": "Rate limit exceeded"}, headers)


class EventLimitExceeded(IngestError):
    status = 429
    reason = "over_limit"

    def __init__(self, limit: int, used: int, remaining: int) -> None:
        super().__init__(
            {
                "error": "Monthly event limit exceeded",
                "code": "EVENT_LIMIT_EXCEEDED",
                "limit": limit,
                "used": used,
                "remaining": remaining,
            }
        )


class ServiceUnavailable(IngestError):
    status = 503
    reason = "unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__({"error": "Service unavailable"}, {"Retry-After": str(retry_after)})
