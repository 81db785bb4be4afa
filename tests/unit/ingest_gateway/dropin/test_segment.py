"""Segment's wire format: the mapping of each call onto our events (pure: no server)."""

from datetime import UTC, datetime, timedelta

from ingest_gateway.dropin.segment import (
    MAX_MESSAGES,
)
from ingest_gateway.limits import MAX_STRING_BYTES
from tests.unit.ingest_gateway.dropin.segment_support import (
    RECEIVED,
    WHEN,
    basic,
    one,
    problems,
    translate,
)


def test_track_maps_ids_time_properties_page_and_campaign() -> None:
    event = one(
        "/v1/track",
        {
            "userId": "user_1",
            "anonymousId": "anon_1",
            "event": "Order Completed",
            "messageId": "msg-1",
            "timestamp": WHEN,
            "properties": {"total": 30, "$pathname": "/mine"},
            "context": {
                "page": {
                    "path": "/checkout",
                    "url": "https://shop.test/checkout?utm_source=x",
                    "referrer": "https://www.google.com/",
                    "title": "Checkout",
                },
                "campaign": {"name": "spring", "source": "news", "medium": "email", "id": "7"},
                "library": {"name": "analytics.js", "version": "next-1.70.0"},
            },
        },
    )
    assert event == {
        "event": "Order Completed",
        "timestamp": datetime(2026, 2, 3, 12, tzinfo=UTC),  # as validation takes it
        "distinctId": "user_1",
        "insertId": "msg-1",
        "properties": {
            "total": 30,
            "$pathname": "/mine",  # the sender's own property wins
            "$url": "https://shop.test/checkout?utm_source=x",
            "$referrer": "https://www.google.com/",
            "$title": "Checkout",
            "utm_campaign": "spring",
            "utm_source": "news",
            "utm_medium": "email",
            "$anonDistinctId": "anon_1",  # both ids: the workers merge them
        },
    }
    assert "sessionId" not in event  # none in the call: the workers derive one


def test_the_end_users_agent_and_address_are_each_messages_record_context() -> None:
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
    translated = translate(
        "/v1/batch",
        {
            "context": {"userAgent": agent},
            "batch": [
                {"type": "track", "userId": "u", "event": "a", "context": {"ip": "8.8.8.8"}},
                {"type": "track", "userId": "u", "event": "b", "context": {"ip": "nowhere"}},
            ],
        },
    )
    assert translated.contexts == [{"userAgent": agent, "ip": "8.8.8.8"}, {"userAgent": agent}]
    assert "userAgent" not in translated.events[0]["properties"]
    plain = translate("/v1/batch", {"batch": [{"type": "track", "userId": "u", "event": "a"}]})
    assert plain.contexts == []  # the request's own, as for POST /


def test_an_anonymous_call_is_the_anonymous_id_and_merges_nothing() -> None:
    event = one("/v1/t", {"anonymousId": "anon_1", "event": "Clicked", "timestamp": WHEN})
    assert (event["distinctId"], event["properties"]) == ("anon_1", {})
    same = one("/v1/t", {"userId": "u", "anonymousId": "u", "event": "e", "timestamp": WHEN})
    assert "$anonDistinctId" not in same["properties"]


def test_numeric_ids_are_strings() -> None:
    event = one("/v1/track", {"userId": 42, "event": "e", "messageId": 7, "timestamp": WHEN})
    assert (event["distinctId"], event["insertId"]) == ("42", "7")


def test_page_is_a_pageview_from_its_properties_then_context_page() -> None:
    event = one(
        "/v1/page",
        {
            "anonymousId": "a",
            "name": "Pricing",
            "category": "Docs",
            "timestamp": WHEN,
            "properties": {"path": "/pricing", "url": "https://x.test/pricing", "title": "P"},
            "context": {"page": {"path": "/other", "referrer": "", "title": "Other"}},
        },
    )
    assert event["event"] == "$pageview"
    assert event["properties"] == {
        "path": "/pricing",
        "url": "https://x.test/pricing",
        "title": "P",
        "$pathname": "/pricing",
        "$url": "https://x.test/pricing",
        "$referrer": "",  # as our browser SDK sends a visit without a referrer
        "$title": "P",
        "name": "Pricing",
        "category": "Docs",
    }


def test_screen_names_the_screen() -> None:
    event = one("/v1/screen", {"userId": "u", "name": "Home", "timestamp": WHEN})
    assert (event["event"], event["properties"]) == (
        "$screen",
        {"name": "Home", "$screen_name": "Home"},
    )
    from_properties = one(
        "/v1/s", {"userId": "u", "properties": {"name": "Cart"}, "timestamp": WHEN}
    )
    assert from_properties["properties"]["$screen_name"] == "Cart"


def test_identify_merges_and_keeps_traits_apart_from_our_keys() -> None:
    event = one(
        "/v1/identify",
        {
            "userId": "user_1",
            "anonymousId": "anon_1",
            "timestamp": WHEN,
            "traits": {"plan": "pro", "$anonDistinctId": "forged"},
        },
    )
    assert (event["event"], event["distinctId"]) == ("$identify", "user_1")
    assert event["properties"] == {
        "traits.plan": "pro",
        "traits.$anonDistinctId": "forged",
        "$anonDistinctId": "anon_1",
    }


def test_alias_merges_the_previous_id_into_the_user_id() -> None:
    event = one(
        "/v1/alias",
        {"previousId": "old", "userId": "new", "anonymousId": "anon", "timestamp": WHEN},
    )
    assert (event["event"], event["distinctId"], event["properties"]) == (
        "$identify",
        "new",
        {"$anonDistinctId": "old"},
    )


def test_group_is_accepted_as_a_group_event() -> None:
    event = one(
        "/v1/group", {"userId": "u", "groupId": "acme", "traits": {"seats": 5}, "timestamp": WHEN}
    )
    assert (event["event"], event["properties"]) == (
        "$group",
        {"traits.seats": 5, "$group_id": "acme"},
    )


def test_timestamp_as_sent_else_original_corrected_by_sent_at_else_receive_time() -> None:
    explicit = one("/v1/t", {"userId": "u", "event": "e", "timestamp": WHEN, "sentAt": WHEN})
    assert explicit["timestamp"] == datetime(2026, 2, 3, 12, tzinfo=UTC)
    assert explicit["timestamp"].tzinfo is UTC  # validation takes it as it is
    # The device's clock is 1 h fast: it says it sent at 16:30, 10 s after the event.
    skewed = one(
        "/v1/t",
        {
            "userId": "u",
            "event": "e",
            "originalTimestamp": "2026-02-03T16:29:50Z",
            "sentAt": "2026-02-03T16:30:00Z",
        },
    )
    assert skewed["timestamp"] == RECEIVED - timedelta(seconds=10)
    alone = one("/v1/t", {"userId": "u", "event": "e", "originalTimestamp": WHEN})
    assert alone["timestamp"] == datetime(2026, 2, 3, 12, tzinfo=UTC)
    nothing = one("/v1/t", {"userId": "u", "event": "e"})
    assert nothing["timestamp"] == RECEIVED


def test_a_timestamp_that_is_no_date_is_left_as_sent_for_validation_to_name() -> None:
    for sent in ("soon", 5, "2026-02-30T00:00:00Z"):
        assert one("/v1/t", {"userId": "u", "event": "e", "timestamp": sent})["timestamp"] == sent


def test_a_batch_sent_at_corrects_its_messages_unless_they_carry_their_own() -> None:
    batch = {
        "sentAt": "2026-02-03T15:29:00Z",  # a clock 1 min slow
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "a",
                "originalTimestamp": "2026-02-03T15:28:00Z",
            },
            {
                "type": "track",
                "userId": "u",
                "event": "b",
                "originalTimestamp": "2026-02-03T15:28:00Z",
                "sentAt": "2026-02-03T15:28:30Z",
            },
        ],
    }
    first, second = translate("/v1/batch", batch).events
    assert first["timestamp"] == RECEIVED - timedelta(minutes=1)
    assert second["timestamp"] == RECEIVED - timedelta(seconds=30)


def test_message_id_is_the_insert_id_a_long_one_hashed_stably() -> None:
    long_id = "m" * 65
    first = one("/v1/t", {"userId": "u", "event": "e", "messageId": long_id, "timestamp": WHEN})
    again = one("/v1/t", {"userId": "u", "event": "e", "messageId": long_id, "timestamp": WHEN})
    other = one("/v1/t", {"userId": "u", "event": "e", "messageId": "n" * 65, "timestamp": WHEN})
    assert first["insertId"] == again["insertId"] != other["insertId"]
    assert first["insertId"].startswith("sha256:") and len(first["insertId"]) <= 64
    exact = "x" * 64
    assert one("/v1/t", {"userId": "u", "event": "e", "messageId": exact})["insertId"] == exact
    assert one("/v1/t", {"userId": "u", "event": "e"}).get("insertId") is None


def test_session_from_context_or_the_amplitude_plugin_else_left_to_derive() -> None:
    base = {"userId": "u", "event": "e", "timestamp": WHEN}
    assert one("/v1/t", {**base, "context": {"sessionId": "s1"}})["sessionId"] == "s1"
    amplitude = {"integrations": {"Actions Amplitude": {"session_id": 1770000000000}}}
    assert one("/v1/t", {**base, **amplitude})["sessionId"] == "1770000000000"
    assert "sessionId" not in one("/v1/t", {**base, "context": {"sessionId": ""}})


def test_long_context_values_are_cut_to_our_string_cap() -> None:
    url = "https://x.test/?q=" + "é" * 2000
    event = one("/v1/p", {"userId": "u", "context": {"page": {"url": url}}, "timestamp": WHEN})
    cut = event["properties"]["$url"]
    assert url.startswith(cut) and len(cut.encode()) <= MAX_STRING_BYTES


def test_write_key_from_basic_auth_first_then_the_body() -> None:
    message = {"userId": "u", "event": "e", "writeKey": "pk_body"}
    assert translate("/v1/track", message, basic("pk_basic")).api_key == "pk_basic"
    assert translate("/v1/track", message).api_key == "pk_body"
    bare = {"userId": "u", "event": "e"}
    assert translate("/v1/track", bare, "Bearer token").api_key is None
    assert problems("/v1/track", {**bare, "writeKey": 5}) == [
        {"index": None, "field": "writeKey", "message": "Must be a string."}
    ]


def test_batch_keeps_order_and_merges_the_batch_context() -> None:
    translated = translate(
        "/v1/b",
        {
            "writeKey": "pk_1",
            "context": {"campaign": {"source": "batch"}, "sessionId": "s"},
            "batch": [
                {"type": "identify", "userId": "u", "anonymousId": "a", "timestamp": WHEN},
                {"type": "track", "userId": "u", "event": "e", "timestamp": WHEN},
                {"type": "page", "userId": "u", "context": {"sessionId": "own"}},
            ],
        },
    )
    assert translated.max_events == MAX_MESSAGES
    assert [e["event"] for e in translated.events] == ["$identify", "e", "$pageview"]
    assert [e["sessionId"] for e in translated.events] == ["s", "s", "own"]
    assert all(e["properties"]["utm_source"] == "batch" for e in translated.events)
