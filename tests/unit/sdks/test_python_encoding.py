"""Events encoded once at track(): the same JSON with orjson or the standard library, and
valid JSON whatever the properties hold."""

import json
import math
import types
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from realanalytics_sdk.encoding import (
    HAVE_ORJSON,
    batch_body,
    decode_fragments,
    encode_event_orjson,
    encode_event_stdlib,
)
from realanalytics_sdk.events import encode, now_timestamp

ENCODERS = [encode_event_stdlib] + ([encode_event_orjson] if HAVE_ORJSON else [])
AWKWARD: dict[str, Any] = {
    "text": 'quotes " and \\ and \n and ünïcødé and 😀',
    "nested": {"list": [1, 2.5, True, None, "x"], "tuple": (1, 2)},
    "big": 2**70,
    "nan": math.nan,
    "inf": [math.inf, -math.inf],
    "when": datetime(2026, 2, 3, 15, 30, 0, 123456, tzinfo=UTC),
    "naive": datetime(2026, 2, 3, 15, 30),
    "day": date(2026, 2, 3),
    "clock": time(15, 30),
    "money": Decimal("49.90"),
    "int keys": {1: "one", 2: "two"},
}
EXPECTED = {
    "text": AWKWARD["text"],
    "nested": {"list": [1, 2.5, True, None, "x"], "tuple": [1, 2]},
    "big": 2**70,
    "nan": None,
    "inf": [None, None],
    "when": "2026-02-03T15:30:00.123456+00:00",
    "naive": "2026-02-03T15:30:00",
    "day": "2026-02-03",
    "clock": "15:30:00",
    "money": "49.90",
    "int keys": {"1": "one", "2": "two"},
}


@pytest.mark.parametrize("encode_event", ENCODERS)
def test_awkward_properties_become_valid_json_the_same_way(encode_event: Any) -> None:
    fragment = encode_event("e", "2026-02-03T15:30:00.000Z", "u", "s", AWKWARD, "id-1")
    # The gateway's parser refuses NaN/Infinity: json.loads must not need them.
    event = json.loads(fragment, parse_constant=lambda name: pytest.fail(f"{name} sent"))
    assert event == {
        "event": "e",
        "timestamp": "2026-02-03T15:30:00.000Z",
        "distinctId": "u",
        "sessionId": "s",
        "properties": EXPECTED,
        "insertId": "id-1",
    }


def test_a_batch_is_the_fragments_in_a_json_array() -> None:
    fragments = [encode("e", "u", {"i": i}) for i in range(3)]
    events = json.loads(batch_body(fragments))
    assert [e["properties"]["i"] for e in events] == [0, 1, 2]
    assert decode_fragments(fragments) == events


def test_properties_are_captured_at_track_time_and_may_be_any_mapping() -> None:
    properties = {"plan": "pro"}
    fragment = encode("e", "u", properties)
    properties["plan"] = "changed later"
    assert json.loads(fragment)["properties"] == {"plan": "pro"}
    frozen = types.MappingProxyType({"a": 1})
    assert json.loads(encode("e", "u", frozen))["properties"] == {"a": 1}


def test_circular_properties_raise_at_track_time() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError):
        encode("e", "u", loop)


def test_now_timestamp_matches_the_contracts_format() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = now_timestamp()
    assert len(stamp) == 24 and stamp.endswith("Z")
    assert datetime.fromisoformat(stamp) >= before
