"""The gateway's exception root; the error middleware turns each into the contract's body."""

from typing import Any


class IngestError(Exception):
    status = 400

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error", "error"))
        self.body = body
        self.headers = headers or {}


class ValidationFailed(IngestError):
    status = 400

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__({"error": "Validation failed", "details": details})


class InvalidApiKey(IngestError):
    status = 401

    def __init__(self) -> None:
        super().__init__({"error": "Invalid API key"})


class OriginNotAllowed(IngestError):
    status = 403

    def __init__(self) -> None:
        super().__init__({"error": "Origin not allowed"})


class PayloadTooLarge(IngestError):
    status = 413

    def __init__(self) -> None:
        super().__init__({"error": "Payload too large"})


class UnsupportedEncoding(IngestError):
    status = 415

    def __init__(self, encoding: str) -> None:
        super().__init__(
            {
                "error": "Unsupported Content-Encoding",
                "details": [{"index": None, "field": None, "message": encoding[:50]}],
            }
        )


class RateLimited(IngestError):
    status = 429

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__({"error": "Rate limit exceeded"}, headers)


class EventLimitExceeded(IngestError):
    status = 429

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

    def __init__(self, retry_after: int) -> None:
        super().__init__({"error": "Service unavailable"}, {"Retry-After": str(retry_after)})
