"""A request body read as JSON the same way by every App API service: an empty body or
malformed JSON is refused with the contract's 400 details, never a bare 500.

Each service passes the exception that carries its 400 (its ``ValidationFailed``), then
checks what its database cannot store itself (``control_plane.validation``,
``query_api.parsing``).
"""

from collections.abc import Callable
from typing import Any

import orjson

Refuse = Callable[[list[dict[str, Any]]], Exception]


def json_document(body: bytes, refuse: Refuse) -> Any:
    """The body's JSON document; ``refuse(details)`` is raised when there is none."""
    if not body.strip():
        raise refuse([{"field": None, "message": "Request body is empty."}])
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise refuse([{"field": None, "message": f"Malformed JSON: {exc}"}]) from exc
