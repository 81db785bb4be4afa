"""Segment's wire format: refusals, caps, bodies, answers; any JSON never a crash (pure)."""

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_gateway.dropin.segment import (
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES,
    SEGMENT,
    segment_field,
)
from ingest_gateway.dropin.wire import WireRequest, mark_sessionless
from ingest_gateway.errors import (
    EventLimitExceeded,
    IngestError,
    InvalidApiKey,
    ValidationFailed,
)
from ingest_gateway.validation import validate_events
from tests.unit.ingest_gateway.dropin.segment_support import (
    WHEN,
    problems,
    request,
    translate,
)


def test_every_message_problem_is_named_by_its_batch_index_and_segment_field() -> None:
    batch = [
        {"type": "track", "userId": "u", "event": "ok"},
        "not a message",
        {"type": "track", "event": "no ids"},
        {"type": "wave", "userId": "u"},
        {"type": "track", "userId": "u"},
        {"type": "track", "userId": "u", "event": "e", "properties": []},
        {"type": "alias", "userId": "u"},
        {"type": "identify", "userId": {"id": 1}},
        {"type": "group", "userId": "u"},
        {"type": "track", "userId": "u", "event": "e", "messageId": ["m"]},
    ]
    assert [(d["index"], d["field"]) for d in problems("/v1/batch", {"batch": batch})] == [
        (1, None),
        (2, "userId"),
        (3, "type"),
        (4, "event"),
        (5, "properties"),
        (6, "previousId"),
        (7, "userId"),
        (8, "groupId"),
        (9, "messageId"),
    ]


def test_a_message_over_32_kb_is_refused_with_its_index() -> None:
    small = {"type": "track", "userId": "u", "event": "e"}
    big = {**small, "properties": {"blob": "x" * MAX_MESSAGE_BYTES}}
    [detail] = problems("/v1/batch", {"batch": [small, big, small]})
    assert (detail["index"], detail["field"]) == (1, None)
    assert "32 KB" in detail["message"]
    [single] = problems("/v1/track", big)
    assert single["index"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", None),
        (b"{", None),
        (b"[]", None),
        (b'{"batch": {}}', "batch"),
        (b'{"batch": [], "sentAt": 5}', "sentAt"),
        (b'{"batch": [], "context": "web"}', "context"),
    ],
)
def test_bodies_that_are_not_segment_calls_are_400s(body: bytes, field: str | None) -> None:
    with pytest.raises(ValidationFailed) as caught:
        SEGMENT.translate(WireRequest(path="/v1/batch", body=body))
    [detail] = caught.value.body["details"]
    assert (detail["index"], detail["field"]) == (None, field)


def test_too_many_messages_are_refused_before_any_is_read() -> None:
    [detail] = problems("/v1/batch", {"batch": [1] * (MAX_MESSAGES + 1)})
    assert (detail["field"], detail["message"]) == ("batch", "At most 2500 messages per batch.")


def test_translated_events_meet_our_contract_once_sessions_are_filled() -> None:
    events = translate(
        "/v1/batch",
        {
            "batch": [
                {"type": kind, "userId": "u", "anonymousId": "a", "event": "e", "groupId": "g"}
                for kind in ("track", "page", "screen", "identify", "group")
            ]
            + [{"type": "alias", "userId": "u", "previousId": "p"}]
        },
    ).events
    mark_sessionless(events)
    assert len(validate_events(events)) == 6


def test_what_our_contract_refuses_is_named_as_sent() -> None:
    # A timestamp is passed on as sent; our validation refuses one that is not a date.
    [event] = translate(
        "/v1/track", {"userId": "u" * 201, "event": "e", "timestamp": "yesterday"}
    ).events
    mark_sessionless([event])
    with pytest.raises(ValidationFailed) as caught:
        validate_events([event])
    response = SEGMENT.refused(request("/v1/track", {}), caught.value)
    assert response.text is not None
    details = orjson.loads(response.text)["details"]
    assert sorted((d["index"], d["field"]) for d in details) == [(0, "timestamp"), (0, "userId")]


def test_refusal_is_segments_error_shape_with_our_details_named_as_sent() -> None:
    error = ValidationFailed(
        [
            {"index": 0, "field": "distinctId", "message": "Longer than maximum length 200."},
            {"index": 1, "field": "properties.traits.bio", "message": "too long"},
            {"index": 2, "field": "insertId", "message": "NUL"},
            {"index": 3, "field": "event", "message": "too long"},
        ]
    )
    response = SEGMENT.refused(request("/v1/batch", {}), error)
    assert response.status == 400
    assert response.text is not None
    body = orjson.loads(response.text)
    assert (body["success"], body["code"], body["message"]) == (
        False,
        "validation",
        "Validation failed",
    )
    assert [d["field"] for d in body["details"]] == ["userId", "traits.bio", "messageId", "event"]


@pytest.mark.parametrize(
    ("error", "status", "extra"),
    [
        (InvalidApiKey(), 401, {"code": "invalid_key", "message": "Invalid API key"}),
        (
            EventLimitExceeded(10, 10, 0),
            429,
            {"code": "EVENT_LIMIT_EXCEEDED", "limit": 10, "used": 10, "remaining": 0},
        ),
    ],
)
def test_other_refusals_keep_our_status_and_fields(
    error: IngestError, status: int, extra: dict[str, Any]
) -> None:
    response = SEGMENT.refused(request("/v1/batch", {}), error)
    assert response.status == status
    assert response.text is not None
    body = orjson.loads(response.text)
    assert body["success"] is False
    assert extra.items() <= body.items()


def test_success_is_segments_body() -> None:
    response = SEGMENT.accepted(request("/v1/batch", {}), 3)
    assert response.status == 200
    assert response.text is not None
    assert orjson.loads(response.text) == {"success": True}


def test_routes_and_caps() -> None:
    assert set(SEGMENT.paths) >= {
        "/v1/track",
        "/v1/page",
        "/v1/screen",
        "/v1/identify",
        "/v1/alias",
        "/v1/group",
        "/v1/batch",
        "/v1/b",
    }
    assert SEGMENT.max_body_bytes == 500 * 1024


def test_segment_field_leaves_unknown_details_alone() -> None:
    assert segment_field({"index": None, "field": None, "message": "m"})["field"] is None
    assert segment_field({"index": 0, "field": "properties.x"})["field"] == "properties.x"


def test_a_large_message_nested_past_the_json_encoder_is_a_400_not_a_crash() -> None:
    # orjson reads 1,024 levels but writes 254: measuring such a message must not raise.
    deep = b"[" * 300 + b"]" * 300
    filler = b'"' + b"x" * MAX_MESSAGE_BYTES + b'"'
    body = b'{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"d": '
    body += deep + b', "f": ' + filler + b"}}]}"
    with pytest.raises(ValidationFailed) as caught:
        SEGMENT.translate(WireRequest(path="/v1/batch", body=body))
    [detail] = caught.value.body["details"]
    assert (detail["index"], detail["field"]) == (0, None)


def test_a_correction_past_the_calendar_is_a_400_not_a_crash() -> None:
    message = {
        "userId": "u",
        "event": "e",
        "originalTimestamp": "0001-01-01T00:00:00Z",
        "sentAt": "9999-12-31T00:00:00Z",
    }
    [detail] = problems("/v1/track", message)
    assert (detail["index"], detail["field"]) == (0, "originalTimestamp")
    assert detail["message"].startswith("Out of range once corrected by sentAt")


_SCALAR = st.none() | st.booleans() | st.floats(allow_nan=False) | st.text()
_JSON = st.recursive(
    _SCALAR | st.integers(-(2**63), 2**64 - 1),  # what orjson reads and writes
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_FIELDS = st.sampled_from(
    ["type", "userId", "anonymousId", "previousId", "groupId", "event", "messageId",
     "timestamp", "originalTimestamp", "sentAt", "properties", "traits", "context",
     "integrations", "name", "category"]
)  # fmt: skip
_MESSAGE = st.dictionaries(_FIELDS, _JSON | st.sampled_from(["track", "page", WHEN]))


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(["/v1/batch", "/v1/track", "/v1/page", "/v1/alias", "/v1/group"]),
    batch=st.lists(_MESSAGE | _JSON, max_size=4),
    envelope=st.dictionaries(st.sampled_from(["sentAt", "context", "writeKey"]), _JSON),
)
def test_any_json_is_events_or_a_refusal_never_a_crash(
    path: str, batch: list[Any], envelope: dict[str, Any]
) -> None:
    document = {**envelope, "batch": batch} if path == "/v1/batch" else batch[0] if batch else {}
    try:
        translated = SEGMENT.translate(request(path, document))
    except IngestError as error:
        response = SEGMENT.refused(request(path, document), error)
        assert response.status == 400
    else:
        assert len(translated.events) == (len(batch) if path == "/v1/batch" else 1)
        assert len(translated.contexts) in (0, len(translated.events))
