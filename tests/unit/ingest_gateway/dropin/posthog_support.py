"""Shared set-up of the posthog drop-in format's unit tests."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ingest_gateway.dropin.posthog import translate
from ingest_gateway.dropin.wire import Translated, WireRequest
from ingest_gateway.errors import (
    ValidationFailed,
)

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


KEY = "pk_test_123"


def request(
    document: Any = None,
    *,
    body: bytes | None = None,
    query: dict[str, str] | None = None,
    content_type: str = "application/json",
    path: str = "/batch/",
) -> WireRequest:
    raw = body if body is not None else orjson.dumps(document)
    return WireRequest(path=path, body=raw, content_type=content_type, query=query or {})


def run(document: Any = None, **options: Any) -> Translated:
    return translate(request(document, **options), NOW)


def refusal(document: Any = None, **options: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        run(document, **options)
    return caught.value


def message(**fields: Any) -> dict[str, Any]:
    return {
        "event": "signup",
        "distinct_id": "user_1",
        "uuid": "0190b3a2-7e3c-7bb1-9c1f-6f1f3b0b2a11",
        "timestamp": "2026-03-04T11:59:00+00:00",
        "properties": {"plan": "pro"},
        **fields,
    }


POSTHOG_JS_PAGEVIEW: dict[str, Any] = {
    "uuid": "01a24f24-6a66-7d8d-8e05-a6d9be69f780",
    "event": "$pageview",
    "properties": {
        "$os": "Linux",
        "$browser": "Chrome",
        "$device_type": "Desktop",
        "$timezone": "UTC",
        "$current_url": "http://shop.test/pricing?utm_source=news",
        "$host": "shop.test",
        "$pathname": "/pricing",
        "$raw_user_agent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0",
        "$browser_version": 156,
        "$screen_height": 720,
        "$lib": "web",
        "$lib_version": "1.449.2",
        "$insert_id": "b7n0z1ojnn3jruoq",
        "$time": 1796624116.398,
        "distinct_id": "01a24f24-6a3e-7c0c-a8ac-7e66d87495c0",
        "$device_id": "01a24f24-6a3e-7c0c-a8ac-7e66d87495c0",
        "utm_source": "news",
        **{name: None for name in ("utm_medium", "utm_campaign", "gclid", "fbclid", "msclkid")},
        "$referrer": "https://news.example.com/launch",
        "$referring_domain": "news.example.com",
        "title": "Pricing",
        "token": KEY,
        "$session_id": "01a24f24-6aae-77bc-bd7d-09a97d3a0507",
        "$window_id": "01a24f24-6aaf-7598-bfaa-6748a51eed2a",
        "$is_identified": False,
        "$lib_rate_limit_remaining_tokens": 99,
    },
    "timestamp": "2026-03-04T11:58:59.900Z",
}
