"""Mixpanel's ingestion format: body shapes and the mapping onto our events (pure: no server)."""

import base64
import random
from typing import Any
from urllib.parse import quote_plus, unquote_to_bytes

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_gateway.dropin.mixpanel_body import unquote_form
from ingest_gateway.dropin.wire import mark_sessionless
from ingest_gateway.errors import (
    IngestError,
    ValidationFailed,
)
from ingest_gateway.validation import validate_events
from tests.unit.ingest_gateway.dropin.mixpanel_support import (
    B64,
    FORM,
    FORMAT,
    INSERT_ID,
    JSON_TEXT,
    KEY,
    NOW,
    form,
    message,
    one,
    refusal,
    translate,
    wire,
)


@pytest.mark.parametrize(
    ("body", "content_type", "query"),
    [
        (orjson.dumps(message()), "application/json", None),  # one object
        (orjson.dumps([message()]), "application/json", None),  # a list
        (orjson.dumps(message()) + b"\n\n", "application/x-ndjson", None),
        (form(JSON_TEXT, verbose=1, ip=0), FORM, None),  # mixpanel-python
        (form(B64), FORM, None),  # mixpanel-js with api_payload_format base64
        (form(B64.rstrip("=")), FORM, None),  # unpadded
        (b"data=" + B64.encode(), FORM, None),  # a "+" left unencoded arrives as " "
        (form(base64.urlsafe_b64encode(JSON_TEXT.encode())), FORM, None),
        (form(JSON_TEXT), "", None),  # no content type: told by its first byte
        (form(JSON_TEXT), "text/plain", None),
        (b"", "", {"data": B64}),  # the old GET style, posted
    ],
    ids=[
        "object",
        "list",
        "ndjson",
        "form-json",
        "form-base64",
        "base64-unpadded",
        "base64-raw-plus",
        "base64-urlsafe",
        "form-untyped",
        "form-text-plain",
        "query-data",
    ],
)
def test_every_body_shape_gives_the_same_event(
    body: bytes, content_type: str, query: dict[str, str] | None
) -> None:
    translated = translate(body, content_type=content_type, query=query)
    assert translated.api_key == KEY
    assert translated.events == [
        {
            "event": "Signup",
            "timestamp": NOW,  # a UTC datetime, as validation takes it
            "distinctId": "u1",
            "properties": {},
            "insertId": INSERT_ID,
        }
    ]


def test_the_plus_sign_of_raw_base64_survives_form_decoding() -> None:
    # base64 of this JSON holds a "+", which an unencoded form field turns into " ".
    data = base64.b64encode(orjson.dumps(message(note="~~~>"))).decode()
    assert "+" in data
    assert one(b"data=" + data.encode(), content_type=FORM)["properties"] == {"note": "~~~>"}


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"", "application/json", "empty"),
        (b"   ", FORM, "form data with a data field"),
        (b"{nope", "application/json", "Malformed JSON"),
        (b'"a string"', "application/json", "event object or an array"),
        (b"verbose=1", FORM, "form data with a data field"),
        (b"data=%7B%7D&data=%7B%7D", FORM, "one data field"),
        (b"data=!!!notbase64", FORM, "base64"),
        (b"data=" + base64.b64encode(b"not json"), FORM, "Malformed JSON"),
        (b"data=%7B%FF%7D", FORM, "UTF-8"),
        (b"data=[\xff]", FORM, "UTF-8"),
        (b"&".join([b"f%d=1" % n for n in range(101)] + [b"data=%7B%7D"]), FORM, "fields"),
        (b'{"event": "a"}\n{oops', "application/x-ndjson", "Line 2"),
        (b"\n\n", "application/x-ndjson", "empty"),
    ],
    ids=[
        "empty",
        "blank-form",
        "bad-json",
        "scalar",
        "form-without-data",
        "two-data",
        "bad-base64",
        "base64-not-json",
        "bad-percent-utf8",
        "raw-bytes",
        "too-many-fields",
        "bad-ndjson-line",
        "empty-ndjson",
    ],
)
def test_bad_bodies_are_refused_with_a_reason(body: bytes, content_type: str, words: str) -> None:
    [detail] = refusal(body, content_type=content_type)
    assert detail["index"] is None
    assert words in detail["message"]


def test_form_decoding_matches_urllib() -> None:
    rng = random.Random(19)
    alphabet = b"ab =%+\n\r\t_.-\x00\xff09AFaf"
    for _ in range(5_000):
        sent = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert unquote_form(sent) == unquote_to_bytes(sent.replace(b"+", b" ")), sent
    for _ in range(2_000):
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
        assert unquote_form(quote_plus(raw).encode()) == raw


def test_a_message_that_is_not_an_object_is_left_for_validation_to_name() -> None:
    translated = translate([message(), 7])
    mark_sessionless(translated.events)  # the gateway's part before validation
    with pytest.raises(ValidationFailed) as caught:
        validate_events(translated.events, max_events=translated.max_events)
    assert caught.value.body["details"] == [
        {"index": 1, "field": None, "message": "Event must be a JSON object."}
    ]


# --- mapping ---


def test_reserved_properties_are_not_stored_and_the_rest_are() -> None:
    event = one([message(ip="203.0.113.9", mp_lib="python", plan="pro", n=2)])
    assert event["properties"] == {"mp_lib": "python", "plan": "pro", "n": 2}


@pytest.mark.parametrize(
    ("sent", "timestamp"),
    [
        (1772366400, "2026-03-01T12:00:00+00:00"),  # seconds
        (1772366400.25, "2026-03-01T12:00:00.250000+00:00"),  # seconds, float
        (1772366400123, "2026-03-01T12:00:00.123000+00:00"),  # milliseconds
        (1772366400123.5, "2026-03-01T12:00:00.123500+00:00"),  # milliseconds, float
        (99_999_999_999, "5138-11-16T09:46:39+00:00"),  # the largest read as seconds
        (100_000_000_000, "1973-03-03T09:46:40+00:00"),  # the smallest read as ms
    ],
)
def test_time_in_seconds_or_milliseconds(sent: float, timestamp: str) -> None:
    assert one([message(time=sent)])["timestamp"].isoformat() == timestamp


def test_no_time_is_the_receive_time() -> None:
    sent = message()
    del sent["properties"]["time"]
    assert one([sent])["timestamp"] == NOW


@pytest.mark.parametrize("bad", ["1772366400", True, [1], 1e30, -1e30])
def test_a_time_that_is_not_a_number_in_range_is_refused(bad: Any) -> None:
    [detail] = refusal([message(), message(time=bad)])
    assert detail == {
        "index": 1,
        "field": "properties.time",
        "message": "Must be seconds or milliseconds since the epoch.",
    }


def test_insert_ids_dedup_as_mixpanel_does() -> None:
    # Mixpanel's key is (event, distinct_id, time, $insert_id): a retry repeats all four.
    first, retry, other_event, other_user, other_time, numeric, empty = translate(
        [
            message(),
            message(),
            message("Login"),
            message(distinct_id="u2"),
            message(time=1772366401),
            message(**{"$insert_id": 42}),
            message(**{"$insert_id": ""}),
        ]
    ).events
    assert first["insertId"] == retry["insertId"] == INSERT_ID
    ids = [e["insertId"] for e in (first, other_event, other_user, other_time, numeric)]
    assert len(set(ids)) == 5
    assert empty.get("insertId") is None
    # The same moment in seconds or in milliseconds is the same message.
    seconds, milliseconds = message(time=1772366400.25), message(time=1772366400250)
    assert one([seconds])["insertId"] == one([milliseconds])["insertId"]
    no_time = message()
    del no_time["properties"]["time"]
    assert one([no_time])["insertId"] == one([no_time])["insertId"]  # not the receive time
    [detail] = refusal([message(**{"$insert_id": {"no": 1}})])
    assert (detail["index"], detail["field"]) == (0, "properties.$insert_id")


def test_distinct_ids_numbers_and_devices() -> None:
    assert one([message(distinct_id=12345)])["distinctId"] == "12345"
    assert one([message(distinct_id="$device:abc")])["distinctId"] == "$device:abc"
    no_id = message(**{"$device_id": "abc"})
    del no_id["properties"]["distinct_id"]
    event = one([no_id])
    assert event["distinctId"] == "$device:abc"
    assert "$anonDistinctId" not in event["properties"]


def test_simplified_id_merge_user_and_device_ids_merge() -> None:
    event = one([message(distinct_id="u1", **{"$user_id": "u1", "$device_id": "abc"})])
    assert event["distinctId"] == "u1"
    assert event["properties"]["$anonDistinctId"] == "$device:abc"
    assert event["properties"]["$device_id"] == "abc"  # kept: Mixpanel shows it too
    only_user = one([message(distinct_id="$device:abc", **{"$user_id": "u9"})])
    assert only_user["distinctId"] == "u9"
    assert "$anonDistinctId" not in only_user["properties"]


def test_identify_alias_and_merge_become_our_identify() -> None:
    identify = message(
        "$identify",
        distinct_id="u1",
        **{"$identified_id": "u1", "$anon_distinct_id": "$device:abc"},
    )
    alias = {
        "event": "$create_alias",
        "properties": {"distinct_id": "u1", "alias": "a1", "token": KEY},
    }
    merge = {"event": "$merge", "properties": {"$distinct_ids": ["u1", "m1"], "token": KEY}}
    events = translate([identify, alias, merge]).events
    assert [(e["event"], e["distinctId"], e["properties"]["$anonDistinctId"]) for e in events] == [
        ("$identify", "u1", "$device:abc"),
        ("$identify", "u1", "a1"),
        ("$identify", "u1", "m1"),
    ]
    assert len(events[0]["insertId"]) == 64
    # mixpanel-python sends alias and merge with no $insert_id: a retry gets the same one.
    assert events[1]["insertId"] == translate([alias]).events[0]["insertId"]
    assert events[1]["insertId"] != events[2]["insertId"]
    assert len(events[1]["insertId"]) == 64
    assert all(e["timestamp"] == NOW for e in events[1:])


def test_an_alias_sent_with_track_as_the_docs_say_merges() -> None:
    # mp.track(original, "$create_alias", {"alias": new}): the client adds its own fields.
    event = one([message("$create_alias", distinct_id="anon-1", alias="user-1")])
    assert (event["event"], event["distinctId"]) == ("$identify", "anon-1")
    assert event["properties"] == {"alias": "user-1", "$anonDistinctId": "user-1"}


@pytest.mark.parametrize("ids", [["u1"], ["u1", ""], "u1,m1", ["u1", None], None])
def test_a_merge_without_two_ids_is_refused(ids: Any) -> None:
    bad = {"event": "$merge", "properties": {"$distinct_ids": ids, "token": KEY}}
    details = refusal([bad])
    assert details[0] == {
        "index": 0,
        "field": "properties.$distinct_ids",
        "message": "Must be a list of two distinct ids.",
    }


def test_page_properties_land_on_ours() -> None:
    event = one(
        [
            message(
                "$mp_web_page_view",
                **{
                    "$current_url": "https://shop.test/pricing?utm_source=news",
                    "current_page_title": "Pricing",
                    "$referrer": "$direct",
                    "utm_source": "news",
                },
            )
        ]
    )
    assert event["event"] == "$pageview"
    assert event["properties"] == {
        "$url": "https://shop.test/pricing?utm_source=news",
        "$pathname": "/pricing",
        "$title": "Pricing",
        "utm_source": "news",
    }
    sent_path = one([message(**{"$current_url": "https://a.test/x", "current_url_path": "/y"})])
    assert sent_path["properties"]["$pathname"] == "/y"
    assert one([message(**{"$referrer": "https://b.test/"})])["properties"] == {
        "$referrer": "https://b.test/"
    }


def test_translated_events_are_valid_once_they_have_a_session() -> None:
    events = translate(
        [message(plan="pro"), message("$identify", **{"$anon_distinct_id": "a"})]
    ).events
    for event in events:
        event["sessionId"] = "s1"
    assert len(validate_events(events)) == 2


def test_properties_that_are_not_an_object_are_refused() -> None:
    [detail] = refusal([{"event": "x", "properties": ["token"]}])
    assert detail == {"index": 0, "field": "properties", "message": "Must be an object."}


# --- any input ---

_SCALAR = st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8)
_JSON = st.recursive(
    _SCALAR | st.integers(-(2**63), 2**64 - 1),  # what orjson reads and writes
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_PROPERTIES = st.dictionaries(
    st.sampled_from(
        ["token", "time", "distinct_id", "$insert_id", "ip", "$user_id", "$device_id",
         "$identified_id", "$anon_distinct_id", "alias", "$distinct_ids", "$current_url",
         "$referrer"]
    ),
    _JSON | st.sampled_from([KEY, 1772366400, 1772366400123, "u1"]),
)  # fmt: skip
_MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "event": _JSON | st.sampled_from(["Signup", "$identify", "$create_alias", "$merge"]),
        "properties": _PROPERTIES | _JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(batch=st.lists(_MESSAGE | _JSON, max_size=4), path=st.sampled_from(["/track", "/import"]))
def test_any_json_is_events_or_a_refusal_never_a_crash(batch: list[Any], path: str) -> None:
    # An event name that is a list once crashed the translation (unhashable): a 500.
    try:
        translated = translate(batch, path=path)
        mark_sessionless(translated.events)
        validate_events(translated.events, translated.may_hold_nul, translated.max_events)
    except IngestError as error:
        assert FORMAT.refused(wire(batch, path=path), error).status in (400, 401, 413)
    else:
        assert len(translated.events) == len(batch)
