"""Mixpanel's wire format: every body shape, the mapping onto our events, the key, the caps
and Mixpanel's answers (pure: no server)."""

import base64
import hashlib
import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_to_bytes, urlencode

import orjson
import pytest

from ingest_gateway.dropin.mixpanel import (
    IMPORT_MAX_EVENTS,
    TRACK_MAX_EVENTS,
    MixpanelFormat,
)
from ingest_gateway.dropin.mixpanel_body import unquote_form
from ingest_gateway.dropin.wire import Translated, WireRequest
from ingest_gateway.errors import (
    InvalidApiKey,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from ingest_gateway.validation import validate_events

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FORMAT = MixpanelFormat(clock=lambda: NOW)
FORM = "application/x-www-form-urlencoded"
KEY = "pk_test"
INSERT_ID = hashlib.sha256(b"Signup\x00u1\x002026-03-01T12:00:00+00:00\x00i1").hexdigest()


def message(name: str = "Signup", /, **properties: Any) -> dict[str, Any]:
    base = {"token": KEY, "distinct_id": "u1", "time": 1772366400, "$insert_id": "i1"}
    return {"event": name, "properties": {**base, **properties}}


def wire(
    body: bytes | Any,
    path: str = "/track",
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
    authorization: str | None = None,
) -> WireRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return WireRequest(path, raw, content_type, query or {}, authorization)


def form(data: str | bytes, **fields: Any) -> bytes:
    text = data.decode() if isinstance(data, bytes) else data
    return urlencode({"data": text, **fields}).encode()


def translate(body: bytes | Any, **kwargs: Any) -> Translated:
    return FORMAT.translate(wire(body, **kwargs))


def one(body: bytes | Any, **kwargs: Any) -> dict[str, Any]:
    [event] = translate(body, **kwargs).events
    return event  # type: ignore[no-any-return]


def refusal(body: bytes | Any, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        translate(body, **kwargs)
    return caught.value.body["details"]  # type: ignore[no-any-return]


# --- body shapes ---

JSON_TEXT = orjson.dumps([message()]).decode()
B64 = base64.b64encode(JSON_TEXT.encode()).decode()


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
            "timestamp": "2026-03-01T12:00:00+00:00",
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
    translated.events[0]["sessionId"] = "s1"  # the deriver's part
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
    assert one([message(time=sent)])["timestamp"] == timestamp


def test_no_time_is_the_receive_time() -> None:
    sent = message()
    del sent["properties"]["time"]
    assert one([sent])["timestamp"] == NOW.isoformat()


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
    assert first["insertId"] == retry["insertId"]
    assert (
        first["insertId"]
        == hashlib.sha256(b"Signup\x00u1\x002026-03-01T12:00:00+00:00\x00i1").hexdigest()
    )
    ids = [e["insertId"] for e in (first, other_event, other_user, other_time, numeric)]
    assert len(set(ids)) == 5
    assert "insertId" not in empty
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
    assert all(e["timestamp"] == NOW.isoformat() for e in events[1:])


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


# --- the key ---


def test_the_key_is_the_token_every_event_carries() -> None:
    assert translate([message(), message()]).api_key == KEY
    sent = message()
    del sent["properties"]["token"]
    assert translate([sent]).api_key is None  # refused 401 by the ingestor
    details = refusal([message(), message(token="pk_other"), sent])
    assert [(d["index"], d["field"]) for d in details] == [
        (1, "properties.token"),
        (2, "properties.token"),
    ]
    [detail] = refusal([message(token=5)])
    assert detail["message"] == "Must be a string."


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


def test_import_takes_the_key_from_basic_auth() -> None:
    sent = message()
    del sent["properties"]["token"]
    assert translate([sent], path="/import", authorization=basic("pk_basic")).api_key == "pk_basic"
    # A secret key is passed on as the key, and refused 401 by the ingestor's look-up.
    assert translate([message()], path="/import/", authorization=basic("sk_x")).api_key == "sk_x"
    assert translate([message()], path="/track", authorization=basic("pk_basic")).api_key == KEY
    assert translate([message()], path="/import", authorization="Bearer x").api_key == KEY


# --- caps ---


def test_track_takes_50_events_and_import_2000() -> None:
    assert len(translate([message()] * TRACK_MAX_EVENTS).events) == 50
    assert translate([message()], path="/track/").max_events == TRACK_MAX_EVENTS
    [detail] = refusal([message()] * (TRACK_MAX_EVENTS + 1))
    assert detail["message"] == "At most 50 events per request."
    big = translate([message()] * IMPORT_MAX_EVENTS, path="/import")
    assert (len(big.events), big.max_events) == (2000, 2000)
    [detail] = refusal([message()] * (IMPORT_MAX_EVENTS + 1), path="/import")
    assert detail["message"] == "At most 2000 events per request."
    assert FORMAT.max_body_bytes == 1024 * 1024


# --- answers ---


def body_of(response: Any) -> Any:
    return orjson.loads(response.text)


def test_track_answers_1_or_verbose_json() -> None:
    plain = FORMAT.accepted(wire(b"[]"), 3)
    assert (plain.status, plain.text, plain.content_type) == (200, "1", "text/plain")
    by_query = FORMAT.accepted(wire(b"[]", query={"verbose": "1"}), 3)
    assert body_of(by_query) == {"status": 1, "error": None}
    by_form = FORMAT.accepted(wire(form("[]", verbose=1, ip=0), content_type=FORM), 3)
    assert body_of(by_form) == {"status": 1, "error": None}
    # "verbose=1" inside the data field is percent-encoded: not a field.
    inside = FORMAT.accepted(wire(form('{"a":"&verbose=1"}'), content_type=FORM), 3)
    assert inside.text == "1"


def test_import_answers_the_count() -> None:
    verbose = FORMAT.accepted(wire(form("[]", verbose=1), path="/import", content_type=FORM), 7)
    assert body_of(verbose) == {"code": 200, "num_records_imported": 7, "status": 1}
    as_json = FORMAT.accepted(wire(b"[]", path="/import"), 7)
    assert body_of(as_json) == {"code": 200, "num_records_imported": 7, "status": "OK"}


def refused_for(request: WireRequest) -> tuple[int, Any]:
    try:
        translated = FORMAT.translate(request)
        validate_events(
            [{**e, "sessionId": "s"} if isinstance(e, dict) else e for e in translated.events],
            max_events=translated.max_events,
        )
    except ValidationFailed as exc:
        response = FORMAT.refused(request, exc)
        return response.status, body_of(
            response
        ) if response.content_type != "text/plain" else response.text
    raise AssertionError("not refused")


def test_track_refusals_say_0_or_why() -> None:
    bad = [message(), message(time="soon")]
    assert refused_for(wire(bad)) == (400, "0")
    status, answer = refused_for(wire(bad, query={"verbose": "1"}))
    assert status == 400
    assert answer["status"] == 0
    assert answer["error"] == (
        "Validation failed: event 1, properties.time: "
        "Must be seconds or milliseconds since the epoch."
    )
    assert answer["details"] == [
        {
            "index": 1,
            "field": "properties.time",
            "message": "Must be seconds or milliseconds since the epoch.",
        }
    ]


def test_import_refusals_list_failed_records_in_mixpanel_terms() -> None:
    bad = [message(), message(**{"$insert_id": "i2"}), message(**{"$insert_id": "i3"})]
    bad[1]["event"] = ""
    del bad[2]["properties"]["distinct_id"]
    status, answer = refused_for(wire(bad, path="/import", query={"strict": "1"}))
    assert status == 400
    assert answer["code"] == 400
    assert answer["status"] == "Bad Request"
    assert answer["num_records_imported"] == 0
    assert answer["error"].startswith("Validation failed: event 1, event: ")
    assert answer["error"].endswith("(and 1 more)")
    assert [(r["index"], r["insert_id"], r["field"]) for r in answer["failed_records"]] == [
        (1, "i2", "event"),
        (2, "i3", "properties.distinct_id"),
    ]
    assert [(d["index"], d["field"]) for d in answer["details"]] == [
        (1, "event"),
        (2, "properties.distinct_id"),
    ]


def test_other_refusals_keep_their_status_in_mixpanel_words() -> None:
    importing = wire(b"[]", path="/import")
    unauthorized = FORMAT.refused(importing, InvalidApiKey())
    assert unauthorized.status == 401
    assert body_of(unauthorized) == {
        "code": 401,
        "error": "Invalid API key",
        "status": "Unauthorized",
        "num_records_imported": 0,
    }
    too_large = FORMAT.refused(importing, PayloadTooLarge())
    assert (too_large.status, body_of(too_large)["status"]) == (413, "Request Entity Too Large")
    limited = FORMAT.refused(wire(b"[]", query={"verbose": "1"}), RateLimited({"Retry-After": "1"}))
    assert (limited.status, body_of(limited)) == (
        429,
        {"status": 0, "error": "Rate limit exceeded"},
    )
    unread = FORMAT.refused(wire(b"", content_type=FORM), PayloadTooLarge())
    assert (unread.status, body_of(unread)) == (413, {"status": 0, "error": "Payload too large"})
    status, too_many = refused_for(wire([message()] * 2001, path="/import/"))
    assert status == 400
    assert too_many["error"] == "Validation failed: At most 2000 events per request."
    assert too_many["failed_records"] == []  # the request's problem, not one event's


def test_the_ip_property_locates_the_event_and_the_request_address_only_with_ip_1() -> None:
    located = translate([message(ip="8.8.8.8"), message(ip="not an address"), message()])
    assert located.contexts == [{"ip": "8.8.8.8"}, {"ip": ""}, {"ip": ""}]  # "": not the server's
    assert translate([message()], query={"ip": "1"}).contexts == [{}]
    assert "ip" not in located.events[0]["properties"]  # never stored
