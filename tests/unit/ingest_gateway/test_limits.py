"""The caps that keep every accepted event storable, and the bounded 400 body."""

import json
from typing import Any

import pytest

from ingest_gateway.errors import MAX_DETAILS, ValidationFailed, bounded_details, valid_text
from ingest_gateway.limits import (
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_NESTED_BYTES,
    MAX_STRING_BYTES,
    event_problems,
    property_field,
    value_problem,
)
from ingest_gateway.validation import parse_payload, parse_timestamp, validate_events

ASTRAL = "\U0001f600"


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_the_caps_keep_a_breakdown_index_entry_under_postgresqls_limit() -> None:
    # uuid + event (100 chars) + key + granularity + bucket + value, 4 bytes a character,
    # plus the varlena headers and the tuple header: within a btree entry's 2704 bytes.
    worst = 16 + (4 + 400) + (4 + 4 * MAX_KEY_CHARS) + (4 + 6) + 8 + (4 + MAX_STRING_BYTES) + 24
    assert worst < 2704


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("x" * MAX_STRING_BYTES, False),
        ("x" * (MAX_STRING_BYTES + 1), True),
        (ASTRAL * (MAX_STRING_BYTES // 4), False),
        (ASTRAL * (MAX_STRING_BYTES // 4) + "x", True),
        ("é" * (MAX_STRING_BYTES // 2 + 1), True),
        (ASTRAL * 3000, True),
        ("a\x00b", True),
        (12345678901234567890, False),
        (2**64 - 1, False),  # the JSON parser keeps integers in [-2^63, 2^64 - 1] exact
        (-(2**63), False),
        (9.2e18, False),
        (2.0**64, True),  # what it makes of an integer past 64 bits: digits lost
        (-(2.0**63), True),  # what it makes of -2^63 - 1
        (1e300, True),
        ({"a": [1, {"b": 1.8446744073709552e19}]}, True),
        (1.5, False),
        (None, False),
        (True, False),
        (["x" * 4000, "y" * 4000], False),
        (["x" * MAX_NESTED_BYTES], True),
        ({"a": {"b": ["\x00"]}}, True),
        ({"k\x00": 1}, True),
        (nested(MAX_DEPTH), False),
        (nested(MAX_DEPTH + 1), True),
        (nested(300), True),  # past the JSON encoder's own limit
        (nested(1000), True),
    ],
)
def test_value_caps(value: Any, refused: bool) -> None:
    assert (value_problem(value) is not None) == refused


def test_problems_name_the_property_and_the_cap() -> None:
    problems = event_problems(
        {
            "event": "e\x00",
            "distinctId": "u",
            "properties": {"ok": "x", "k" * 300: 1, "big": ASTRAL * 300, "deep": nested(40)},
        }
    )
    fields = [field for field, _ in problems]
    assert fields == ["event", property_field("k" * 300), "properties.big", "properties.deep"]
    assert fields[1] == "properties." + "k" * 64 + "…"
    messages = dict(problems)
    assert "NUL" in messages["event"]
    assert str(MAX_KEY_CHARS) in messages[fields[1]]
    assert "1024 bytes" in messages["properties.big"]
    assert "32 levels" in messages["properties.deep"]


def test_wrong_types_are_left_to_the_schema() -> None:
    assert event_problems({"event": 5, "properties": "x"}) == []


def test_validate_events_lists_cap_problems_with_schema_problems_in_index_order() -> None:
    good = {
        "event": "e",
        "timestamp": "2026-02-03T15:30:00Z",
        "distinctId": "u",
        "sessionId": "s",
        "properties": {},
    }
    with pytest.raises(ValidationFailed) as caught:
        validate_events(
            [
                {**good, "properties": {"p": "\x00"}},
                good,
                {**good, "timestamp": "0001-01-01T00:00:00+01:00", "sessionId": "\x00"},
            ]
        )
    details = caught.value.body["details"]
    assert [(d["index"], d["field"]) for d in details] == [
        (0, "properties.p"),
        (2, "sessionId"),
        (2, "timestamp"),
    ]


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30+00:31"]
)
def test_timestamps_that_leave_the_range_in_utc_are_not_dates(text: str) -> None:
    assert parse_timestamp(text) is None


def test_a_400_lists_at_most_100_details_and_counts_those_left_out() -> None:
    details = [{"index": i, "field": "event", "message": "Required."} for i in range(250_000)]
    body = ValidationFailed(details).body
    assert len(body["details"]) == MAX_DETAILS
    assert body["omittedDetails"] == 250_000 - MAX_DETAILS
    assert ValidationFailed(details[:3]).body == {
        "error": "Validation failed",
        "details": details[:3],
    }


@pytest.mark.parametrize("character", ["x", "é", ASTRAL, "\x01", "\udcff", "\ud800"])
def test_a_400_body_stays_under_64_kib_whatever_the_texts(character: str) -> None:
    long = character * 100_000
    details = [{"index": i, "field": long, "message": long} for i in range(1000)]
    body = ValidationFailed(details, total=10**9).body
    assert len(json.dumps(body)) < 64 * 1024
    assert body["omittedDetails"] == 10**9 - len(body["details"])
    assert 1 <= len(body["details"]) <= MAX_DETAILS
    json.dumps(body).encode()  # no lone surrogate is sent
    assert all(valid_text(d["field"]) == d["field"] for d in body["details"])


def test_bounded_details_keep_index_and_cut_text() -> None:
    [detail] = bounded_details([{"index": 3, "field": "f" * 500, "message": "m"}])
    assert detail["index"] == 3
    assert detail["field"] == "f" * 200 + "…"


def test_valid_text_replaces_undecodable_header_bytes() -> None:
    header = b"Mozilla \xff\xfe".decode("utf-8", "surrogateescape")  # as aiohttp reads it
    assert valid_text(header) == "Mozilla \ufffd\ufffd"
    assert valid_text("plain") == "plain"
    assert valid_text(ASTRAL) == ASTRAL
    assert valid_text("a\ud800").strip("\ufffd") == "a"


def test_a_body_without_a_nul_escape_skips_the_nul_checks_safely() -> None:
    from ingest_gateway.validation import parse_payload

    plain = b'{"event": "e", "properties": {"a": "\\\\u0000 is text here"}}'
    assert parse_payload(plain).may_hold_nul  # a false alarm only costs the slow checks
    assert not parse_payload(b'{"event": "e", "properties": {"a": "b"}}').may_hold_nul
    holding = parse_payload(b'{"event": "e", "properties": {"a": "\\u0000"}}')
    assert holding.may_hold_nul
    assert event_problems(holding.events[0], holding.may_hold_nul)


@pytest.mark.parametrize(
    "literal",
    [b"18446744073709551616", b"-9223372036854775809", b"123456789012345678901234567890"],
)
def test_an_integer_past_64_bits_is_refused_not_rounded(literal: bytes) -> None:
    body = b'{"event": "e", "timestamp": "2026-02-03T15:30:00Z", "distinctId": "u",'
    body += b' "sessionId": "s", "properties": {"ok": 18446744073709551615, "n": %s}}' % literal
    payload = parse_payload(body)
    with pytest.raises(ValidationFailed) as caught:
        validate_events(payload.events, payload.may_hold_nul)
    [detail] = caught.value.body["details"]
    assert (detail["index"], detail["field"]) == (0, "properties.n")
    assert "64-bit" in detail["message"]


def test_integers_within_64_bits_are_kept_exact() -> None:
    body = b'{"event": "e", "timestamp": "2026-02-03T15:30:00Z", "distinctId": "u",'
    body += (
        b' "sessionId": "s", "properties": {"a": 9007199254740993, "b": [-9223372036854775808]}}'
    )
    payload = parse_payload(body)
    [loaded] = validate_events(payload.events, payload.may_hold_nul)
    assert loaded["properties"] == {"a": 2**53 + 1, "b": [-(2**63)]}
