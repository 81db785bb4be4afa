"""Segment's HTTP Tracking API → our events: the mapping table, every payload shape, the
refusals and the answers (pure: no server)."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_gateway.dropin.segment import (
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES,
    SEGMENT,
    SegmentFormat,
    segment_field,
)
from ingest_gateway.dropin.wire import Translated, WireRequest
from ingest_gateway.errors import (
    EventLimitExceeded,
    IngestError,
    InvalidApiKey,
    ValidationFailed,
)
from ingest_gateway.limits import MAX_STRING_BYTES
from ingest_gateway.validation import validate_events

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


def test_track_maps_ids_time_properties_page_and_campaign() -> None:
    event = one(
        "/v1/track",
        {
            "userId": "user_1",
            "anonymousId": "anon_1",
            "event": "Order Completed",
            "messageId": "msg-1",
            "timestamp": WHEN,
            "properties": {"total": 30, "$pathname": "/mine"},
            "context": {
                "page": {
                    "path": "/checkout",
                    "url": "https://shop.test/checkout?utm_source=x",
                    "referrer": "https://www.google.com/",
                    "title": "Checkout",
                },
                "campaign": {"name": "spring", "source": "news", "medium": "email", "id": "7"},
                "library": {"name": "analytics.js", "version": "next-1.70.0"},
            },
        },
    )
    assert event == {
        "event": "Order Completed",
        "timestamp": WHEN,  # as sent: our validation parses it
        "distinctId": "user_1",
        "insertId": "msg-1",
        "properties": {
            "total": 30,
            "$pathname": "/mine",  # the sender's own property wins
            "$url": "https://shop.test/checkout?utm_source=x",
            "$referrer": "https://www.google.com/",
            "$title": "Checkout",
            "utm_campaign": "spring",
            "utm_source": "news",
            "utm_medium": "email",
            "$anonDistinctId": "anon_1",  # both ids: the workers merge them
        },
    }
    assert "sessionId" not in event  # none in the call: the gateway derives one


def test_the_end_users_agent_and_address_are_each_messages_record_context() -> None:
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
    translated = translate(
        "/v1/batch",
        {
            "context": {"userAgent": agent},
            "batch": [
                {"type": "track", "userId": "u", "event": "a", "context": {"ip": "8.8.8.8"}},
                {"type": "track", "userId": "u", "event": "b", "context": {"ip": "nowhere"}},
            ],
        },
    )
    assert translated.contexts == [{"userAgent": agent, "ip": "8.8.8.8"}, {"userAgent": agent}]
    assert "userAgent" not in translated.events[0]["properties"]
    plain = translate("/v1/batch", {"batch": [{"type": "track", "userId": "u", "event": "a"}]})
    assert plain.contexts == []  # the request's own, as for POST /


def test_an_anonymous_call_is_the_anonymous_id_and_merges_nothing() -> None:
    event = one("/v1/t", {"anonymousId": "anon_1", "event": "Clicked", "timestamp": WHEN})
    assert (event["distinctId"], event["properties"]) == ("anon_1", {})
    same = one("/v1/t", {"userId": "u", "anonymousId": "u", "event": "e", "timestamp": WHEN})
    assert "$anonDistinctId" not in same["properties"]


def test_numeric_ids_are_strings() -> None:
    event = one("/v1/track", {"userId": 42, "event": "e", "messageId": 7, "timestamp": WHEN})
    assert (event["distinctId"], event["insertId"]) == ("42", "7")


def test_page_is_a_pageview_from_its_properties_then_context_page() -> None:
    event = one(
        "/v1/page",
        {
            "anonymousId": "a",
            "name": "Pricing",
            "category": "Docs",
            "timestamp": WHEN,
            "properties": {"path": "/pricing", "url": "https://x.test/pricing", "title": "P"},
            "context": {"page": {"path": "/other", "referrer": "", "title": "Other"}},
        },
    )
    assert event["event"] == "$pageview"
    assert event["properties"] == {
        "path": "/pricing",
        "url": "https://x.test/pricing",
        "title": "P",
        "$pathname": "/pricing",
        "$url": "https://x.test/pricing",
        "$referrer": "",  # as our browser SDK sends a visit without a referrer
        "$title": "P",
        "name": "Pricing",
        "category": "Docs",
    }


def test_screen_names_the_screen() -> None:
    event = one("/v1/screen", {"userId": "u", "name": "Home", "timestamp": WHEN})
    assert (event["event"], event["properties"]) == (
        "$screen",
        {"name": "Home", "$screen_name": "Home"},
    )
    from_properties = one(
        "/v1/s", {"userId": "u", "properties": {"name": "Cart"}, "timestamp": WHEN}
    )
    assert from_properties["properties"]["$screen_name"] == "Cart"


def test_identify_merges_and_keeps_traits_apart_from_our_keys() -> None:
    event = one(
        "/v1/identify",
        {
            "userId": "user_1",
            "anonymousId": "anon_1",
            "timestamp": WHEN,
            "traits": {"plan": "pro", "$anonDistinctId": "forged"},
        },
    )
    assert (event["event"], event["distinctId"]) == ("$identify", "user_1")
    assert event["properties"] == {
        "traits.plan": "pro",
        "traits.$anonDistinctId": "forged",
        "$anonDistinctId": "anon_1",
    }


def test_alias_merges_the_previous_id_into_the_user_id() -> None:
    event = one(
        "/v1/alias",
        {"previousId": "old", "userId": "new", "anonymousId": "anon", "timestamp": WHEN},
    )
    assert (event["event"], event["distinctId"], event["properties"]) == (
        "$identify",
        "new",
        {"$anonDistinctId": "old"},
    )


def test_group_is_accepted_as_a_group_event() -> None:
    event = one(
        "/v1/group", {"userId": "u", "groupId": "acme", "traits": {"seats": 5}, "timestamp": WHEN}
    )
    assert (event["event"], event["properties"]) == (
        "$group",
        {"traits.seats": 5, "$group_id": "acme"},
    )


def test_timestamp_as_sent_else_original_corrected_by_sent_at_else_receive_time() -> None:
    explicit = one("/v1/t", {"userId": "u", "event": "e", "timestamp": WHEN, "sentAt": WHEN})
    assert explicit["timestamp"] == WHEN
    # The device's clock is 1 h fast: it says it sent at 16:30, 10 s after the event.
    skewed = one(
        "/v1/t",
        {
            "userId": "u",
            "event": "e",
            "originalTimestamp": "2026-02-03T16:29:50Z",
            "sentAt": "2026-02-03T16:30:00Z",
        },
    )
    assert skewed["timestamp"] == (RECEIVED - timedelta(seconds=10)).isoformat()
    alone = one("/v1/t", {"userId": "u", "event": "e", "originalTimestamp": WHEN})
    assert alone["timestamp"] == "2026-02-03T12:00:00+00:00"
    nothing = one("/v1/t", {"userId": "u", "event": "e"})
    assert nothing["timestamp"] == RECEIVED.isoformat()


def test_a_batch_sent_at_corrects_its_messages_unless_they_carry_their_own() -> None:
    batch = {
        "sentAt": "2026-02-03T15:29:00Z",  # a clock 1 min slow
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "a",
                "originalTimestamp": "2026-02-03T15:28:00Z",
            },
            {
                "type": "track",
                "userId": "u",
                "event": "b",
                "originalTimestamp": "2026-02-03T15:28:00Z",
                "sentAt": "2026-02-03T15:28:30Z",
            },
        ],
    }
    first, second = translate("/v1/batch", batch).events
    assert first["timestamp"] == (RECEIVED - timedelta(minutes=1)).isoformat()
    assert second["timestamp"] == (RECEIVED - timedelta(seconds=30)).isoformat()


def test_message_id_is_the_insert_id_a_long_one_hashed_stably() -> None:
    long_id = "m" * 65
    first = one("/v1/t", {"userId": "u", "event": "e", "messageId": long_id, "timestamp": WHEN})
    again = one("/v1/t", {"userId": "u", "event": "e", "messageId": long_id, "timestamp": WHEN})
    other = one("/v1/t", {"userId": "u", "event": "e", "messageId": "n" * 65, "timestamp": WHEN})
    assert first["insertId"] == again["insertId"] != other["insertId"]
    assert first["insertId"].startswith("sha256:") and len(first["insertId"]) <= 64
    exact = "x" * 64
    assert one("/v1/t", {"userId": "u", "event": "e", "messageId": exact})["insertId"] == exact
    assert "insertId" not in one("/v1/t", {"userId": "u", "event": "e"})


def test_session_from_context_or_the_amplitude_plugin_else_left_to_derive() -> None:
    base = {"userId": "u", "event": "e", "timestamp": WHEN}
    assert one("/v1/t", {**base, "context": {"sessionId": "s1"}})["sessionId"] == "s1"
    amplitude = {"integrations": {"Actions Amplitude": {"session_id": 1770000000000}}}
    assert one("/v1/t", {**base, **amplitude})["sessionId"] == "1770000000000"
    assert "sessionId" not in one("/v1/t", {**base, "context": {"sessionId": ""}})


def test_long_context_values_are_cut_to_our_string_cap() -> None:
    url = "https://x.test/?q=" + "é" * 2000
    event = one("/v1/p", {"userId": "u", "context": {"page": {"url": url}}, "timestamp": WHEN})
    cut = event["properties"]["$url"]
    assert url.startswith(cut) and len(cut.encode()) <= MAX_STRING_BYTES


def test_write_key_from_basic_auth_first_then_the_body() -> None:
    message = {"userId": "u", "event": "e", "writeKey": "pk_body"}
    assert translate("/v1/track", message, basic("pk_basic")).api_key == "pk_basic"
    assert translate("/v1/track", message).api_key == "pk_body"
    bare = {"userId": "u", "event": "e"}
    assert translate("/v1/track", bare, "Bearer token").api_key is None
    assert problems("/v1/track", {**bare, "writeKey": 5}) == [
        {"index": None, "field": "writeKey", "message": "Must be a string."}
    ]


def test_batch_keeps_order_and_merges_the_batch_context() -> None:
    translated = translate(
        "/v1/b",
        {
            "writeKey": "pk_1",
            "context": {"campaign": {"source": "batch"}, "sessionId": "s"},
            "batch": [
                {"type": "identify", "userId": "u", "anonymousId": "a", "timestamp": WHEN},
                {"type": "track", "userId": "u", "event": "e", "timestamp": WHEN},
                {"type": "page", "userId": "u", "context": {"sessionId": "own"}},
            ],
        },
    )
    assert translated.max_events == MAX_MESSAGES
    assert [e["event"] for e in translated.events] == ["$identify", "e", "$pageview"]
    assert [e["sessionId"] for e in translated.events] == ["s", "s", "own"]
    assert all(e["properties"]["utm_source"] == "batch" for e in translated.events)


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
    for event in events:
        event.setdefault("sessionId", "derived")
    assert len(validate_events(events)) == 6


def test_what_our_contract_refuses_is_named_as_sent() -> None:
    # A timestamp is passed on as sent; our validation refuses one that is not a date.
    [event] = translate(
        "/v1/track", {"userId": "u" * 201, "event": "e", "timestamp": "yesterday"}
    ).events
    event["sessionId"] = "derived"
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
