"""The ``details`` of the contract's ``{"error": "Validation failed", "details": [...]}``
bodies, from marshmallow's error messages (shared by the App API's services)."""

from typing import Any


def flatten_messages(messages: Any, path: str = "") -> list[dict[str, Any]]:
    """marshmallow's nested ``{field: [msg] | {...}}`` → ``[{"field": "a.b", "message"}]``."""
    if isinstance(messages, dict):
        details: list[dict[str, Any]] = []
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            child = f"{path}.{name}" if path and name else (name or path)
            details.extend(flatten_messages(value, child))
        return details
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": path or None, "message": message} for message in messages]
    if isinstance(messages, list):
        return [d for item in messages for d in flatten_messages(item, path)]
    return [{"field": path or None, "message": str(messages)}]
