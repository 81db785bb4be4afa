"""Reading a record off the topic never raises: what cannot be read is dead-lettered."""

import uuid

import orjson
import pytest

from stream_workers.sink import RawRecord, receive

GOOD = {
    "id": str(uuid.uuid4()),
    "projectId": str(uuid.uuid4()),
    "event": "e",
    "timestamp": "2026-02-01T12:00:00.000000Z",
    "receivedAt": "2026-02-01T12:00:01.000000Z",
    "distinctId": "u1",
    "sessionId": "s1",
    "properties": {},
}


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"timestamp": "9999-12-31T23:59:59-05:00"},  # after year 9999 in UTC
        {"receivedAt": "0001-01-01T00:00:00.000000Z"},  # its partition window underflows
    ],
)
def test_times_past_what_python_holds_are_dead_lettered_not_raised(changes: dict[str, str]) -> None:
    received = receive(RawRecord(3, 7, orjson.dumps({**GOOD, **changes})))
    assert received.item is None and received.code == "undecodable"
    assert received.reason is not None and "OverflowError" in received.reason


def test_a_malformed_record_is_dead_lettered_with_its_reason() -> None:
    received = receive(RawRecord(0, 0, b"not json"))
    assert received.item is None and received.code == "malformed"
    assert received.reason is not None and "not JSON" in received.reason


def test_a_distinct_id_too_long_to_index_is_staged_as_its_digest() -> None:
    received = receive(RawRecord(0, 0, orjson.dumps({**GOOD, "distinctId": "\U0001f600" * 3000})))
    assert received.item is not None
    assert b"~sha256:" in received.staged and len(received.staged) < 2000
