"""PostHog's capture format: each message mapped onto our events, and the key (pure)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from ingest_gateway.dropin.formats import FORMATS
from ingest_gateway.dropin.posthog import MAX_EVENTS, POSTHOG
from ingest_gateway.errors import (
    ValidationFailed,
)
from ingest_gateway.validation import validate_events
from tests.unit.ingest_gateway.dropin.posthog_support import (
    KEY,
    POSTHOG_JS_PAGEVIEW,
    message,
    refusal,
    run,
)


def test_posthog_is_a_registered_format_on_every_capture_path() -> None:
    assert POSTHOG in FORMATS
    assert set(POSTHOG.paths) == {
        "/capture",
        "/capture/",
        "/batch",
        "/batch/",
        "/e",
        "/e/",
        "/i/v0/e",
        "/i/v0/e/",
    }
    assert POSTHOG.max_body_bytes == 1024 * 1024


def test_posthog_python_batch_maps_each_field() -> None:
    sent = message(properties={"plan": "pro", "$lib": "posthog-python", "$session_id": "s-1"})
    translated = run({"api_key": KEY, "batch": [sent], "historical_migration": False})
    assert translated.api_key == KEY
    assert translated.max_events == MAX_EVENTS
    assert translated.events == [
        {
            "event": "signup",
            "distinctId": "user_1",
            "sessionId": "s-1",
            "timestamp": datetime(2026, 3, 4, 11, 59, tzinfo=UTC),  # as validation takes it
            "insertId": "0190b3a2-7e3c-7bb1-9c1f-6f1f3b0b2a11",
            "properties": {"plan": "pro", "$lib": "posthog-python"},
        }
    ]


def test_posthog_js_pageview_maps_onto_our_page_properties_and_validates() -> None:
    translated = run({"api_key": KEY, "batch": [POSTHOG_JS_PAGEVIEW]})
    [event] = translated.events
    assert event["event"] == "$pageview"
    assert event["distinctId"] == "01a24f24-6a3e-7c0c-a8ac-7e66d87495c0"
    assert event["sessionId"] == "01a24f24-6aae-77bc-bd7d-09a97d3a0507"
    properties = event["properties"]
    assert properties["$url"] == "http://shop.test/pricing?utm_source=news"
    assert properties["$pathname"] == "/pricing"
    assert properties["$referrer"] == "https://news.example.com/launch"
    assert properties["$title"] == "Pricing"
    assert properties["utm_source"] == "news"
    for gone in ("token", "distinct_id", "$session_id", "$current_url", "title", "utm_medium"):
        assert gone not in properties
    assert properties["$browser_version"] == 156  # the rest as sent
    [checked] = validate_events(translated.events, max_events=translated.max_events)
    assert checked["insertId"] == POSTHOG_JS_PAGEVIEW["uuid"]


def test_pathname_comes_from_the_url_when_missing_and_direct_is_no_referrer() -> None:
    sent = message(
        event="$pageview",
        properties={"$current_url": "https://a.test/docs/start?x=1", "$referrer": "$direct"},
    )
    [event] = run({"api_key": KEY, "batch": [sent]}).events
    assert event["properties"] == {
        "$url": "https://a.test/docs/start?x=1",
        "$pathname": "/docs/start",
        "$referrer": "",
    }


def test_title_is_only_the_page_title_on_a_pageview() -> None:
    [event] = run({"api_key": KEY, "batch": [message(properties={"title": "CEO"})]}).events
    assert event["properties"] == {"title": "CEO"}


def test_identify_merges_the_anonymous_id_into_the_new_one() -> None:
    sent = message(
        event="$identify",
        distinct_id="user_42",
        properties={"$anon_distinct_id": "anon-1"},
        **{"$set": {"email": "a@b.c"}, "$set_once": {"first": "x"}},
    )
    [event] = run({"api_key": KEY, "batch": [sent]}).events
    assert (event["event"], event["distinctId"]) == ("$identify", "user_42")
    assert event["properties"] == {
        "$anonDistinctId": "anon-1",
        "$set": {"email": "a@b.c"},
        "$set_once": {"first": "x"},
    }


@pytest.mark.parametrize("name", ["$create_alias", "$merge_dangerously"])
def test_alias_becomes_our_identify_merging_the_alias(name: str) -> None:
    # posthog-python's alias(previous_id="anon-1", distinct_id="user_42") sends this.
    sent = message(
        event=name, distinct_id="anon-1", properties={"distinct_id": "anon-1", "alias": "user_42"}
    )
    [event] = run({"api_key": KEY, "batch": [sent]}).events
    assert (event["event"], event["distinctId"]) == ("$identify", "anon-1")
    assert event["properties"] == {"$anonDistinctId": "user_42"}


def test_set_stays_a_set_event_and_merges_nothing() -> None:
    sent = message(event="$set", properties={}, **{"$set": {"name": "Max"}})
    [event] = run({"api_key": KEY, "batch": [sent]}).events
    assert event["event"] == "$set"
    assert event["properties"] == {"$set": {"name": "Max"}}


def test_no_session_id_is_left_out_for_the_workers_to_derive() -> None:
    [event] = run({"api_key": KEY, "batch": [message()]}).events
    assert "sessionId" not in event


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"api_key": KEY, **message()}, KEY),
        ({"token": KEY, **message()}, KEY),
        ({"$token": KEY, **message()}, KEY),
        (message(properties={"token": KEY}), KEY),
        ({"token": KEY, "batch": [message()]}, KEY),
        ([message(properties={"token": KEY}), message(properties={"token": KEY})], KEY),
        (message(), None),
        ({"api_key": 12, **message()}, None),
    ],
    ids=["api_key", "token", "$token", "properties.token", "batch-token", "list", "none", "int"],
)
def test_the_key_is_found_where_posthog_looks(document: Any, key: str | None) -> None:
    translated = run(document, path="/capture/")
    assert translated.api_key == key
    assert all("token" not in e["properties"] for e in translated.events)


def test_a_list_naming_two_keys_is_refused() -> None:
    body = [message(properties={"token": KEY}), message(properties={"token": "pk_other"})]
    error = refusal(body)
    assert "different api keys" in error.body["details"][0]["message"]


def test_distinct_id_fallbacks_and_numbers() -> None:
    sent = [
        message(distinct_id=None, **{"$distinct_id": "d2"}),
        message(distinct_id=None, properties={"distinct_id": "d3"}),
        message(distinct_id=42),
        message(distinct_id=None),
    ]
    events = run({"api_key": KEY, "batch": sent}).events
    assert [e.get("distinctId") for e in events] == ["d2", "d3", "42", None]
    with pytest.raises(ValidationFailed) as caught:
        validate_events(events)
    assert [(d["index"], d["field"]) for d in caught.value.body["details"]] == [
        (0, "sessionId"),
        (1, "sessionId"),
        (2, "sessionId"),
        (3, "distinctId"),
        (3, "sessionId"),
    ]  # the gateway marks them `$derive` first; index 3 has no distinct id at all


def test_uuid_longer_than_an_insert_id_is_hashed_the_same_every_time() -> None:
    long_id = "x" * 65
    first = run({"api_key": KEY, "batch": [message(uuid=long_id)]}).events[0]["insertId"]
    again = run({"api_key": KEY, "batch": [message(uuid=long_id)]}).events[0]["insertId"]
    assert first == again
    assert len(first) == 64
    assert first != long_id[:64]
    assert run({"api_key": KEY, "batch": [message(uuid="")]}).events[0].get("insertId") is None


def test_wire_problems_are_refused_at_their_index() -> None:
    sent = [message(), message(uuid=7, offset="soon"), message(properties=["x"])]
    error = refusal({"api_key": KEY, "batch": sent})
    assert [(d["index"], d["field"]) for d in error.body["details"]] == [
        (1, "offset"),
        (1, "uuid"),
        (2, "properties"),
    ]


# Timestamps, as PostHog's plugin-server computes them.
