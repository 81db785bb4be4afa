"""PostHog's capture format: timestamps, bodies, encodings, answers; never a crash (pure)."""

import base64
import contextlib
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_gateway.dropin.posthog import MAX_EVENTS, POSTHOG
from ingest_gateway.errors import (
    EventLimitExceeded,
    IngestError,
    InvalidApiKey,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)
from tests.unit.ingest_gateway.dropin.posthog_support import (
    KEY,
    NOW,
    message,
    refusal,
    request,
    run,
)


def stamp(sent: dict[str, Any], **options: Any) -> str:
    return text(run({"api_key": KEY, "batch": [sent]}, **options).events[0]["timestamp"])


def text(timestamp: Any) -> str:
    """The ISO text of the UTC ``datetime`` handed to validation (else what was passed on)."""
    if isinstance(timestamp, datetime):
        assert timestamp.tzinfo is UTC
        return timestamp.isoformat()
    return str(timestamp)


def test_no_timestamp_is_the_receive_time() -> None:
    assert stamp(message(timestamp=None)) == NOW.isoformat()


def test_a_timestamp_without_sent_at_is_taken_as_sent() -> None:
    assert stamp(message(timestamp="2026-03-01T08:00:00Z")) == "2026-03-01T08:00:00+00:00"


def test_sent_at_corrects_the_client_clock() -> None:
    # The client's clock is 10 minutes fast: it sent at 12:10 (its time) what happened 30 s
    # before; we received it at 12:00.
    document = {
        "api_key": KEY,
        "sent_at": "2026-03-04T12:10:00+00:00",
        "batch": [message(timestamp="2026-03-04T12:09:30+00:00")],
    }
    assert text(run(document).events[0]["timestamp"]) == "2026-03-04T11:59:30+00:00"
    document["batch"] = [
        message(timestamp="2026-03-04T12:09:30Z", properties={"$ignore_sent_at": 1})
    ]
    assert text(run(document).events[0]["timestamp"]) == "2026-03-04T12:09:30+00:00"


def test_posthog_js_sent_at_is_the_underscore_query_in_milliseconds() -> None:
    sent_ms = int((NOW + timedelta(minutes=10)).timestamp() * 1000)
    sent = [{**message(timestamp="2026-03-04T12:09:00Z"), "token": KEY}]
    assert stamp(sent[0], query={"_": str(sent_ms)}) == "2026-03-04T11:59:00+00:00"
    seconds = str(int(NOW.timestamp()) // 1000)  # a tiny number: not milliseconds, ignored
    assert stamp(sent[0], query={"_": seconds}) == "2026-03-04T12:09:00+00:00"


def test_offset_is_milliseconds_before_the_receive_time() -> None:
    expected = (NOW - timedelta(seconds=5)).isoformat()
    assert stamp(message(timestamp=None, offset=5000)) == expected


def test_a_timestamp_over_23_hours_ahead_is_the_receive_time() -> None:
    assert stamp(message(timestamp="2026-03-05T11:00:00Z")) == "2026-03-05T11:00:00+00:00"
    assert stamp(message(timestamp="2026-03-05T11:00:01Z")) == NOW.isoformat()


def test_a_timestamp_that_is_not_a_date_is_left_for_validation_to_refuse() -> None:
    assert stamp(message(timestamp="yesterday")) == "yesterday"


# Encodings.

BATCH = {"api_key": KEY, "batch": [message()]}


def test_gzip_js_body_without_content_encoding_is_inflated() -> None:
    body = gzip.compress(orjson.dumps(BATCH))
    translated = run(body=body, query={"compression": "gzip-js", "ver": "1.449.2"})
    assert translated.events[0]["event"] == "signup"
    # Found by its magic bytes, as PostHog does, with or without the query.
    assert run(body=body, content_type="text/plain").events == translated.events


def test_base64_bodies_and_form_data_are_decoded() -> None:
    encoded = base64.b64encode(orjson.dumps(BATCH))
    assert run(body=encoded).api_key == KEY
    form = b"data=" + quote(encoded.decode()).encode() + b"&compression=base64"
    assert run(body=form, content_type="application/x-www-form-urlencoded").api_key == KEY
    unquoted_plus = b"data=" + encoded.replace(b"+", b" ")  # '+' read back as a space
    assert run(body=unquoted_plus, content_type="application/x-www-form-urlencoded").api_key
    plain = b"data=" + quote(json.dumps(BATCH)).encode()
    form_json = run(body=plain, content_type="application/x-www-form-urlencoded")
    assert form_json.events == run(BATCH).events
    gzipped = base64.b64encode(gzip.compress(orjson.dumps(BATCH)))
    assert run(body=gzipped).api_key == KEY


@pytest.mark.parametrize(
    ("body", "content_type", "query", "message_part"),
    [
        (b"", "application/json", {}, "empty"),
        (b"{nope", "application/json", {}, "Malformed JSON"),
        (b"<html>", "text/plain", {}, "neither JSON"),
        (b"abcde", "text/plain", {}, "base64"),
        (b"data=x", "application/x-www-form-urlencoded", {"compression": "lz64"}, "lz64"),
        (b"ver=1", "application/x-www-form-urlencoded", {}, "data field"),
        (b"\x1f\x8b\x08\x00garbage", "text/plain", {}, "gzip"),
        (b"NDI=", "text/plain", {}, "batch"),  # base64 of 42
        (b'{"api_key": "k", "batch": {}}', "application/json", {}, "array"),
        (b'{"event": "\xff"}', "application/json", {}, "Malformed JSON"),
    ],
    ids=["empty", "json", "html", "base64", "lz64", "no-data", "gzip", "number", "batch", "utf8"],
)
def test_bad_bodies_are_400s_never_exceptions(
    body: bytes, content_type: str, query: dict[str, str], message_part: str
) -> None:
    error = refusal(body=body, content_type=content_type, query=query)
    assert error.status == 400
    assert message_part in error.body["details"][0]["message"]


def test_gzip_js_bomb_is_too_large() -> None:
    bomb = gzip.compress(b"[" + b" " * (1024 * 1024) + b"]")
    with pytest.raises(PayloadTooLarge):
        run(body=bomb)


# Answers.


def answer(error: IngestError) -> tuple[int, dict[str, Any]]:
    response = POSTHOG.refused(request(BATCH), error)
    assert response.body is not None
    return response.status, orjson.loads(response.body)  # type: ignore[arg-type]


def test_success_is_posthogs_status_1() -> None:
    response = POSTHOG.accepted(request(BATCH), 3)
    assert (response.status, response.body) == (200, b'{"status": 1}')


def test_validation_refusal_is_posthogs_body_with_our_details_on_posthog_names() -> None:
    error = ValidationFailed(
        [
            {"index": 3, "field": "distinctId", "message": "Missing data for required field."},
            {"index": 4, "field": "properties.plan", "message": "Too long."},
        ]
    )
    status, body = answer(error)
    assert status == 400
    assert body == {
        "type": "validation_error",
        "code": "invalid_payload",
        "detail": "Validation failed: event 3, distinct_id: Missing data for required field.",
        "attr": "distinct_id",
        "details": [
            {"index": 3, "field": "distinct_id", "message": "Missing data for required field."},
            {"index": 4, "field": "properties.plan", "message": "Too long."},
        ],
    }
    assert error.body["details"][0]["field"] == "distinctId"  # the error itself untouched


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (InvalidApiKey(), 401, "authentication_error", "invalid_api_key"),
        (PayloadTooLarge(), 413, "validation_error", "payload_too_large"),
        (EventLimitExceeded(100, 100, 0), 429, "throttled_error", "quota_limited"),
        (ServiceUnavailable(2), 503, "server_error", "service_unavailable"),
    ],
)
def test_other_refusals_keep_our_status_in_posthogs_words(
    error: IngestError, status: int, kind: str, code: str
) -> None:
    got_status, body = answer(error)
    assert (got_status, body["type"], body["code"]) == (status, kind, code)
    assert body["detail"] == error.body["error"]
    if isinstance(error, EventLimitExceeded):
        assert (body["limit"], body["used"], body["remaining"]) == (100, 100, 0)


def test_extreme_offsets_and_sent_at_fall_back_to_the_receive_time() -> None:
    assert stamp(message(timestamp=None, offset=2**62)) == NOW.isoformat()
    assert stamp(message(timestamp=None), query={"_": "9" * 15}) == NOW.isoformat()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["event", "distinct_id", "uuid", "timestamp", "offset", "properties", "$set", "token"]
)
MESSAGES = st.dictionaries(FIELDS, JSON, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    document=st.one_of(
        JSON,
        MESSAGES,
        st.lists(MESSAGES | JSON, max_size=4),
        st.fixed_dictionaries({"api_key": JSON, "batch": st.lists(MESSAGES, max_size=4) | JSON}),
    ),
    query=st.dictionaries(st.sampled_from(["_", "compression"]), st.text(max_size=16), max_size=2),
)
def test_any_document_is_events_or_a_refusal_never_an_exception(
    document: Any, query: dict[str, str]
) -> None:
    try:
        translated = run(body=orjson.dumps(document), query=query)
    except IngestError:
        return
    assert len(translated.events) >= 0
    for event in translated.events:
        if isinstance(event, dict):
            assert "token" not in event.get("properties", {})


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=64).flatmap(
        lambda raw: st.sampled_from(
            [raw, b"data=" + raw, b"\x1f\x8b\x08" + raw, base64.b64encode(raw), gzip.compress(raw)]
        )
    ),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded"]),
)
def test_any_bytes_are_events_or_a_refusal_never_an_exception(
    body: bytes, content_type: str
) -> None:
    with contextlib.suppress(IngestError):
        run(body=body, content_type=content_type)


def test_over_the_count_cap_is_refused_before_translating() -> None:
    error = refusal({"api_key": KEY, "batch": [7] * (MAX_EVENTS + 1)})
    assert error.body["details"] == [
        {"index": None, "field": None, "message": f"At most {MAX_EVENTS} events per request."}
    ]
    assert len(run({"api_key": KEY, "batch": [message()] * MAX_EVENTS}).events) == MAX_EVENTS


def test_a_relayed_end_user_is_the_record_s_context_and_no_address_is_kept() -> None:
    relayed = message(properties={"$ip": "8.8.8.8", "$raw_user_agent": "Mozilla/5.0 (iPhone)"})
    translated = run({"api_key": KEY, "batch": [relayed, message(), message(properties=None)]})
    assert translated.contexts == [
        {"userAgent": "Mozilla/5.0 (iPhone)", "ip": "8.8.8.8"},
        {},
        {},
    ]
    assert "$ip" not in translated.events[0]["properties"]
