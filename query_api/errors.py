"""The query API's exception root; the error middleware turns each into a JSON body."""

from typing import Any


class QueryApiError(Exception):
    status = 400

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("error", "error"))
        self.body = body


class ValidationFailed(QueryApiError):
    status = 400

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__({"error": "Validation failed", "details": details})


class Unauthorized(QueryApiError):
    status = 401

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__({"error": message})


class Forbidden(QueryApiError):
    """Also the answer for a project that does not exist: the two are indistinguishable."""

    status = 403

    def __init__(self, message: str = "Forbidden") -> None:
        super().__init__({"error": message})
