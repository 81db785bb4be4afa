from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from ingest_gateway.errors import ValidationFailed
from ingest_gateway.validation import parse_payload, validate_events


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event": "signup_completed",
        "timestamp": "2026-02-03T15:30:00.000Z",
        "distinctId": "user_123",
        "sessionId": "sess_abc",
        "properties": {"plan": "pro", "source": "pricing_page"},
    }
    base.update(overrides)
    return base


def details_of(events: list[Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        validate_events(events)
    assert caught.value.body["error"] == "Validation failed"
    details: list[dict[str, Any]] = caught.value.body["details"]
    return details


def body_details(body: bytes) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_payload(body)
    details: list[dict[str, Any]] = caught.value.body["details"]
    return details


def test_three_shapes_are_recognised() -> None:
    single = parse_payload(orjson.dumps(event()))
    array = parse_payload(orjson.dumps([event(), event()]))
    envelope = parse_payload(orjson.dumps({"apiKey": "pk_live_x", "events": [event()]}))
    assert (single.api_key, len(single.events)) == (None, 1)
    assert (array.api_key, len(array.events)) == (None, 2)
    assert (envelope.api_key, len(envelope.events)) == ("pk_live_x", 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Malformed JSON"),
        (b"", "empty"),
        (b'"just a string"', "Body must be"),
        (b"42", "Body must be"),
        (b'{"apiKey": "pk", "events": {"event": "x"}}', "array of events"),
        (b'{"apiKey": 5, "events": []}', "string"),
    ],
)
def test_bad_bodies_are_explained(body: bytes, message: str) -> None:
    details = body_details(body)
    assert len(details) == 1
    assert message in details[0]["message"]
    assert details[0]["index"] is None


@pytest.mark.parametrize(
    ("events", "message"), [([], "At least one event"), ([event()] * 101, "At most 100 events")]
)
def test_event_count_is_checked(events: list[Any], message: str) -> None:
    [detail] = details_of(events)
    assert message in detail["message"]
    assert detail["index"] is None


def test_exactly_100_events_are_allowed() -> None:
    assert len(validate_events([event()] * 100)) == 100


def test_valid_event_is_loaded_with_utc_timestamp() -> None:
    [loaded] = validate_events([event(timestamp="2026-02-03T17:30:00+02:00", insertId="i-1")])
    assert loaded["timestamp"] == datetime(2026, 2, 3, 15, 30, tzinfo=UTC)
    assert loaded["insertId"] == "i-1"
    assert loaded["properties"] == {"plan": "pro", "source": "pricing_page"}


def test_timestamp_without_zone_means_utc() -> None:
    [loaded] = validate_events([event(timestamp="2026-02-03T15:30:00")])
    assert loaded["timestamp"] == datetime(2026, 2, 3, 15, 30, tzinfo=UTC)


def test_unknown_fields_are_ignored() -> None:
    [loaded] = validate_events([event(type="track", messageId="m")])
    assert "type" not in loaded


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event": ""}, "event"),
        ({"event": "x" * 101}, "event"),
        ({"event": 5}, "event"),
        ({"event": None}, "event"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2026-02-30T00:00:00Z"}, "timestamp"),
        ({"timestamp": 1700000000}, "timestamp"),
        ({"distinctId": ""}, "distinctId"),
        ({"distinctId": 123}, "distinctId"),
        ({"sessionId": ""}, "sessionId"),
        ({"properties": [1, 2]}, "properties"),
        ({"properties": "plan=pro"}, "properties"),
        ({"properties": {str(i): i for i in range(101)}}, "properties"),
        ({"insertId": "x" * 65}, "insertId"),
    ],
)
def test_each_rule_names_its_field(overrides: dict[str, Any], field: str) -> None:
    [detail] = details_of([event(), event(**overrides)])
    assert detail["index"] == 1
    assert detail["field"] == field
    assert detail["message"]


def test_limits_are_inclusive() -> None:
    validate_events(
        [event(event="x" * 100, properties={str(i): i for i in range(100)}, insertId="i" * 64)]
    )


@pytest.mark.parametrize("missing", ["event", "timestamp", "distinctId", "sessionId", "properties"])
def test_every_field_is_required(missing: str) -> None:
    incomplete = event()
    del incomplete[missing]
    [detail] = details_of([incomplete])
    assert detail == {"index": 0, "field": missing, "message": "Missing data for required field."}


def test_every_invalid_event_is_listed_in_index_order() -> None:
    details = details_of([event(), "not an object", event(event=""), 7, event(timestamp="no")])
    assert [(d["index"], d["field"]) for d in details] == [
        (1, None),
        (2, "event"),
        (3, None),
        (4, "timestamp"),
    ]
    assert details[0]["message"] == "Event must be a JSON object."


def test_several_problems_of_one_event_are_all_listed() -> None:
    details = details_of([{"event": "", "properties": {}}])
    assert {d["field"] for d in details} == {"event", "timestamp", "distinctId", "sessionId"}


MUTATIONS: list[dict[str, Any]] = [
    {},
    {"insertId": None},
    {"insertId": ""},
    {"insertId": "i" * 64},
    {"insertId": 7},
    {"event": "e" * 100},
    {"event": "é" * 100},
    {"event": True},
    {"timestamp": "2026-02-03"},
    {"timestamp": "2026-02-03T15:30:00+05:30"},
    {"timestamp": "2026-02-03 15:30"},
    {"timestamp": ""},
    {"timestamp": None},
    # A drop-in translation hands over the UTC time it computed; nothing else is a time.
    {"timestamp": datetime(2026, 2, 3, 15, 30, tzinfo=UTC)},
    {"timestamp": datetime(2026, 2, 3, 15, 30)},
    {"timestamp": datetime(2026, 2, 3, 15, 30, tzinfo=timezone(timedelta(hours=1)))},
    {"distinctId": "d" * 200},
    {"distinctId": "d" * 201},
    {"sessionId": []},
    {"properties": {}},
    {"properties": {str(i): None for i in range(100)}},
    {"properties": None},
    {"extra": {"ignored": True}},
]


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_fast_path_agrees_with_the_schema(mutation: dict[str, Any]) -> None:
    from ingest_gateway.validation import IncomingEventSchema, _plainly_valid

    candidate = event(**mutation)
    fast = _plainly_valid(candidate)
    try:
        expected: dict[str, Any] | None = IncomingEventSchema().load(candidate)
    except Exception:
        expected = None
    if fast is not None:
        assert fast == expected
    for missing in ("event", "timestamp", "distinctId", "sessionId", "properties"):
        incomplete = {k: v for k, v in candidate.items() if k != missing}
        assert _plainly_valid(incomplete) is None


def test_plain_valid_events_take_the_fast_path() -> None:
    from ingest_gateway.validation import _plainly_valid

    assert _plainly_valid(event()) is not None
    assert _plainly_valid(event(insertId="i-1", timestamp="2026-02-03T15:30:00+01:00"))
    assert _plainly_valid(event(timestamp=datetime(2026, 2, 3, 15, 30, tzinfo=UTC)))
