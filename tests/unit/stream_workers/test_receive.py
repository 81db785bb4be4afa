"""Reading a record off the topic never raises: what cannot be read is dead-lettered."""

import uuid

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_workers.received import RawRecord, receive

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


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
TIMES = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "x", ""]),
    JSON,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.fixed_dictionaries(
        {},
        optional={
            "timestamp": TIMES,
            "receivedAt": TIMES,
            "event": JSON,
            "distinctId": JSON,
            "sessionId": JSON,
            "properties": JSON,
            "insertId": JSON,
            "context": JSON,
            "projectId": JSON,
        },
    )
)
def test_any_record_is_received_or_dead_lettered_never_raised(changes: dict[str, object]) -> None:
    received = receive(RawRecord(0, 0, orjson.dumps({**GOOD, **changes})))
    assert (received.item is None) == (received.reason is not None)


def test_a_batch_keeps_a_readable_records_bytes_only_when_asked() -> None:
    raw = RawRecord(3, 7, orjson.dumps(GOOD), request_id="edge-1")
    kept, let_go = receive(raw), receive(raw, keep=False)
    assert kept.staged == let_go.staged and kept.item == let_go.item
    assert kept.raw == raw
    # The dead letter of a record the database refuses then reads its bytes back.
    assert let_go.raw == RawRecord(3, 7, None)
    unreadable = RawRecord(0, 1, b"not json", request_id="edge-2")
    assert receive(unreadable, keep=False).raw == unreadable
