"""The fast decoder accepts and refuses exactly what the contract's schema does."""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from contracts.events import EventRecord, RecordError, decode_record, encode_record
from stream_workers.decoding import Decoded, decode, decode_for_sink, fast_record

PROJECT = str(uuid.uuid4())


def payload(**changes: Any) -> dict[str, Any]:
    record = EventRecord(
        id=str(uuid.uuid4()),
        project_id=PROJECT,
        event="$pageview",
        timestamp=datetime(2026, 2, 1, 12, 30, 15, 123456, tzinfo=UTC),
        received_at=datetime(2026, 2, 1, 12, 30, 16, tzinfo=UTC),
        distinct_id="u1",
        session_id="s1",
        properties={"$pathname": "/", "n": 3, "nested": {"a": [1, None]}},
        insert_id="i1",
        context={"ip": "x"},
    )
    body: dict[str, Any] = orjson.loads(encode_record(record))
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


def test_the_gateways_records_take_the_fast_path_and_equal_the_schemas() -> None:
    for body in (payload(), payload(insertId=None), payload(context=...), payload(insertId=...)):
        assert fast_record(body) is not None
        raw = orjson.dumps(body)
        assert decode(raw) == decode_record(raw)


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "not-a-uuid"},
        {"id": 5},
        {"event": ""},
        {"event": "x" * 101},
        {"event": 7},
        {"distinctId": ""},
        {"sessionId": None},
        {"properties": []},
        {"properties": {f"k{n}": n for n in range(101)}},
        {"insertId": "x" * 65},
        {"insertId": 3},
        {"context": {"a": 1}},
        {"context": None},
        {"timestamp": "2026-02-30T00:00:00.000000Z"},
        {"timestamp": "yesterday"},
        {"receivedAt": ...},
        {"projectId": "acme"},
        {"projectId": ""},
    ],
)
def test_anything_else_is_refused_as_the_schema_refuses_it(changes: dict[str, Any]) -> None:
    raw = orjson.dumps(payload(**changes))
    with pytest.raises(RecordError):
        decode(raw)


@pytest.mark.parametrize(
    "changes",
    [
        {"id": str(uuid.uuid4()).upper()},
        {"timestamp": "2026-02-01T12:30:15+01:00"},
        {"receivedAt": "2026-02-01T12:30:15"},
        {"extra": "ignored"},
    ],
)
def test_other_valid_shapes_fall_back_to_the_schema(changes: dict[str, Any]) -> None:
    raw = orjson.dumps(payload(**changes))
    assert decode(raw) == decode_record(raw)


def test_not_json_and_not_an_object_are_refused() -> None:
    for raw in (b"not json", b"[1, 2]"):
        with pytest.raises(RecordError):
            decode(raw)


@pytest.mark.parametrize("fast", [True, False], ids=["gateway shape", "schema path"])
def test_nul_characters_become_replacement_characters(fast: bool) -> None:
    changes: dict[str, Any] = {"distinctId": "u\x001", "properties": {"k\x00": ["\x00"]}}
    if not fast:
        changes["timestamp"] = "2026-02-01T12:30:15+00:00"  # not the gateway's own format
    record = decode(orjson.dumps(payload(**changes)))
    assert record.distinct_id == "u\ufffd1"
    assert record.properties == {"k\ufffd": ["\ufffd"]}


def test_a_literal_backslash_u0000_is_text_not_a_nul() -> None:
    record = decode(orjson.dumps(payload(distinctId="\\u0000")))
    assert record.distinct_id == "\\u0000"


def test_the_sinks_form_is_the_record_with_its_times_as_text_on_both_paths() -> None:
    fast = orjson.dumps(payload())
    decoded = decode_for_sink(fast)
    assert decoded.record() == decode(fast) == decode_record(fast)
    assert (decoded.timestamp_text, decoded.received_text) == (
        payload()["timestamp"],
        payload()["receivedAt"],
    )  # as on the topic
    zoned = orjson.dumps(payload(timestamp="2026-02-01T13:30:15.123456+01:00"))  # schema's path
    other = decode_for_sink(zoned)
    assert other == Decoded.of(decode_record(zoned))
    assert other.timestamp_text == "2026-02-01T12:30:15.123456+00:00"
    for d in (decoded, other):
        assert datetime.fromisoformat(d.timestamp_text) == d.timestamp
        assert datetime.fromisoformat(d.received_text) == d.received_at
