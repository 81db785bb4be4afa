"""Shared set-up of the mixpanel drop-in format's unit tests."""

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from ingest_gateway.dropin.mixpanel import (
    MixpanelFormat,
)
from ingest_gateway.dropin.wire import Translated, WireRequest
from ingest_gateway.errors import (
    ValidationFailed,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


FORMAT = MixpanelFormat(clock=lambda: NOW)


FORM = "application/x-www-form-urlencoded"


KEY = "pk_test"


# (event, distinct_id, time in microseconds since the epoch, $insert_id)
INSERT_ID = hashlib.sha256(b"Signup\x00u1\x001772366400000000\x00i1").hexdigest()


def message(name: str = "Signup", /, **properties: Any) -> dict[str, Any]:
    base = {"token": KEY, "distinct_id": "u1", "time": 1772366400, "$insert_id": "i1"}
    return {"event": name, "properties": {**base, **properties}}


def wire(
    body: bytes | Any,
    path: str = "/track",
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
    authorization: str | None = None,
) -> WireRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return WireRequest(path, raw, content_type, query or {}, authorization)


def form(data: str | bytes, **fields: Any) -> bytes:
    text = data.decode() if isinstance(data, bytes) else data
    return urlencode({"data": text, **fields}).encode()


def translate(body: bytes | Any, **kwargs: Any) -> Translated:
    return FORMAT.translate(wire(body, **kwargs))


def one(body: bytes | Any, **kwargs: Any) -> dict[str, Any]:
    [event] = translate(body, **kwargs).events
    return event  # type: ignore[no-any-return]


def refusal(body: bytes | Any, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        translate(body, **kwargs)
    return caught.value.body["details"]  # type: ignore[no-any-return]


JSON_TEXT = orjson.dumps([message()]).decode()


B64 = base64.b64encode(JSON_TEXT.encode()).decode()
