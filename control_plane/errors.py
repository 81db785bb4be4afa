"""The control plane's exception root; the error middleware turns each into a JSON body."""

from typing import Any

# A 400 lists at most this many problems (and how many it left out), so that no input,
# however wrong, makes an error body larger than the input itself.
MAX_DETAILS = 100


class ControlPlaneError(Exception):
    status = 400

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error", "error"))
        self.body = body
        self.headers = headers or {}


class ValidationFailed(ControlPlaneError):
    status = 400

    def __init__(self, details: list[dict[str, Any]]) -> None:
        body: dict[str, Any] = {"error": "Validation failed", "details": details[:MAX_DETAILS]}
        if len(details) > MAX_DETAILS:
            body["omittedDetails"] = len(details) - MAX_DETAILS
        super().__init__(body)


class Unauthorized(ControlPlaneError):
    status = 401

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__({"error": message})


class Forbidden(ControlPlaneError):
    """Also the answer for a project that does not exist: the two are indistinguishable."""

    status = 403

    def __init__(self, message: str = "Forbidden") -> None:
        super().__init__({"error": message})


class NotFound(ControlPlaneError):
    status = 404

    def __init__(self, message: str = "Not found") -> None:
        super().__init__({"error": message})


class Conflict(ControlPlaneError):
    status = 409

    def __init__(self, message: str) -> None:
        super().__init__({"error": message})


class TooManyRequests(ControlPlaneError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__({"error": message}, {"Retry-After": str(max(1, retry_after))})


class TooManyAttempts(TooManyRequests):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many login attempts", retry_after)


class PayloadTooLarge(ControlPlaneError):
    status = 413

    def __init__(self, message: str, size: int, limit: int) -> None:
        super().__init__(
            {"error": "Payload too large", "message": message, "size": size, "limit": limit}
        )


class Unavailable(ControlPlaneError):
    """Overloaded right now (see ``common.unavailable`` for the dependencies' own)."""

    status = 503

    def __init__(self, code: str, retry_after: int) -> None:
        super().__init__(
            {"error": "Service unavailable", "code": code},
            {"Retry-After": str(max(1, retry_after))},
        )
