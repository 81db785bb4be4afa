"""Shared set-up of the segment drop-in format's unit tests."""

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ingest_gateway.dropin.segment import (
    SegmentFormat,
)
from ingest_gateway.dropin.wire import Translated, WireRequest
from ingest_gateway.errors import (
    ValidationFailed,
)

RECEIVED = datetime(2026, 2, 3, 15, 30, tzinfo=UTC)


SEGMENT_AT_RECEIPT = SegmentFormat(now=lambda: RECEIVED)


WHEN = "2026-02-03T12:00:00.000Z"


def request(path: str, document: Any, authorization: str | None = None) -> WireRequest:
    return WireRequest(path=path, body=orjson.dumps(document), authorization=authorization)


def translate(path: str, document: Any, authorization: str | None = None) -> Translated:
    return SEGMENT_AT_RECEIPT.translate(request(path, document, authorization))


def one(path: str, message: dict[str, Any]) -> dict[str, Any]:
    [event] = translate(path, {"writeKey": "pk_1", **message}).events
    assert isinstance(event, dict)
    return event


def problems(path: str, document: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        translate(path, document)
    details: list[dict[str, Any]] = caught.value.body["details"]
    return details


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
