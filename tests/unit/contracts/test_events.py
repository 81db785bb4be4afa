from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from contracts.events import (
    EventRecord,
    RecordError,
    decode_record,
    encode_record,
    encode_record_fields,
    format_time,
    record_key,
)


def make_record(**overrides: object) -> EventRecord:
    values: dict[str, object] = {
        "id": "01934b6e-4a3b-7c3d-8e2f-0123456789ab",
        "project_id": "7d1e2f3a-0000-4000-8000-000000000001",
        "event": "signup_completed",
        "timestamp": datetime(2026, 2, 3, 15, 30, tzinfo=UTC),
        "received_at": datetime(2026, 2, 3, 15, 30, 1, 250000, tzinfo=UTC),
        "distinct_id": "user_123",
        "session_id": "sess_abc",
        "properties": {"plan": "pro", "nested": {"a": [1, 2]}},
        "insert_id": "ins-1",
        "context": {"userAgent": "curl/8", "origin": "https://example.com"},
    }
    values.update(overrides)
    return EventRecord(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    record = make_record()
    assert decode_record(encode_record(record)) == record


def test_encoded_record_uses_contract_field_names_and_utc_times() -> None:
    record = make_record(
        timestamp=datetime(2026, 2, 3, 17, 30, tzinfo=timezone(timedelta(hours=2)))
    )
    payload = orjson.loads(encode_record(record))
    assert payload["timestamp"] == "2026-02-03T15:30:00.000000Z"
    assert payload["receivedAt"] == "2026-02-03T15:30:01.250000Z"
    assert set(payload) == {
        "id",
        "projectId",
        "event",
        "timestamp",
        "receivedAt",
        "distinctId",
        "sessionId",
        "properties",
        "insertId",
        "context",
    }


def test_key_keeps_one_users_events_together() -> None:
    assert record_key("p1", "u1") == b"p1:u1"
    assert record_key("p1", "u1") != record_key("p1", "u2")


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"event": "x"}', orjson.dumps({"id": "nope"})],
)
def test_malformed_records_raise_record_error(raw: bytes) -> None:
    with pytest.raises(RecordError):
        decode_record(raw)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 2, 3, 15, 30, tzinfo=UTC),
        datetime(2026, 2, 3, 15, 30, 0, 1, tzinfo=UTC),
        datetime(2026, 2, 3, 15, 30, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),  # the year stays four digits
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 2, 3, 17, 30, 0, 500, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 2, 3, 15, 30, tzinfo=timezone(timedelta(0))),  # UTC, not the singleton
    ],
)
def test_times_are_formatted_as_isoformat_with_microseconds_always(moment: datetime) -> None:
    """format_time's shortcut (isoformat without timespec) gives the one format on the topic."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    assert format_time(moment) == utc.isoformat(timespec="microseconds") + "Z"


def test_the_gateways_field_encoder_gives_the_records_bytes() -> None:
    record = make_record(quota_reserved=True)
    assert encode_record(record) == encode_record_fields(
        record.id,
        record.project_id,
        record.event,
        format_time(record.timestamp),
        format_time(record.received_at),
        record.distinct_id,
        record.session_id,
        record.properties,
        record.insert_id,
        record.context,
        True,
    )
