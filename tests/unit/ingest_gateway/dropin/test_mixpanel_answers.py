"""Mixpanel's ingestion format: the key, the caps and Mixpanel's answers (pure: no server)."""

import base64
from typing import Any

import orjson

from ingest_gateway.dropin.mixpanel import (
    IMPORT_MAX_EVENTS,
    TRACK_MAX_EVENTS,
)
from ingest_gateway.dropin.wire import WireRequest
from ingest_gateway.errors import (
    InvalidApiKey,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from ingest_gateway.validation import validate_events
from tests.unit.ingest_gateway.dropin.mixpanel_support import (
    FORM,
    FORMAT,
    KEY,
    form,
    message,
    refusal,
    translate,
    wire,
)


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
    assert located.contexts == [{"ip": "8.8.8.8"}, {}, {}]
    assert not located.request_address  # the others: not the server's address either
    plain = translate([message()], query={"ip": "1"})
    assert (plain.contexts, plain.request_address) == ([], True)
    assert "ip" not in located.events[0]["properties"]  # never stored
