"""Enrichment (decision 0017): real user agents, crawlers, server clients, addresses."""

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pytest

from stream_workers.enrichment import load_enricher
from stream_workers.received import RawRecord, receive

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.2 Safari/605.1.15"
)
EDGE = CHROME + " Edg/120.0.0.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.6099.144 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.2 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0;"
    " +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2;"
    " +https://openai.com/gptbot)",
]
SERVER_CLIENTS = [
    "python-requests/2.31",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "realanalytics-python/0.1.0",  # sdks/python's USER_AGENT
    "posthog-python/3.5.0",
    "analytics-python/2.3.2",  # Segment's
    "mixpanel-python/4.10.1",
    "Python/3.11 aiohttp/3.9.1",  # aiohttp's default: the library is the second token
    "python-urllib3/2.0.7",
    "Wget/1.21.3",
    "PostmanRuntime/7.36.0",
    "HTTPie/3.2.2",
    "Faraday v2.7.4",
    "PHP/8.2",
    "libwww-perl/6.72",
    "Apache-HttpClient/4.5.14 (Java/17.0.1)",
]


Enrich = Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]]


@pytest.fixture(scope="module")
def enrich() -> Enrich:
    return load_enricher().properties


@pytest.mark.parametrize(
    ("agent", "browser", "os", "device"),
    [
        (CHROME, "Chrome", "Windows", "desktop"),
        (FIREFOX, "Firefox", "Windows", "desktop"),
        (SAFARI, "Safari", "Mac OS X", "desktop"),
        (EDGE, "Edge", "Windows", "desktop"),
        (IPHONE, "Mobile Safari", "iOS", "mobile"),
        (ANDROID, "Chrome Mobile", "Android", "mobile"),
        (IPAD, "Mobile Safari", "iOS", "tablet"),
        (ANDROID_TABLET, "Chrome", "Android", "tablet"),
    ],
)
def test_browsers(enrich: Enrich, agent: str, browser: str, os: str, device: str) -> None:
    found = enrich({}, {"userAgent": agent})
    assert (found["$browser"], found["$os"], found["$deviceType"]) == (browser, os, device)
    assert found["$browserVersion"].split(".")[0].isdigit()
    assert "$bot" not in found  # never stored as false


@pytest.mark.parametrize("agent", CRAWLERS)
def test_crawlers_are_bots(enrich: Enrich, agent: str) -> None:
    assert enrich({}, {"userAgent": agent})["$bot"] is True


@pytest.mark.parametrize("agent", SERVER_CLIENTS)
def test_server_clients_are_never_bots(enrich: Enrich, agent: str) -> None:
    found = enrich({}, {"userAgent": agent})
    assert "$bot" not in found
    assert "$deviceType" not in found  # no OS: no device


def test_the_client_wins_except_for_bot(enrich: Enrich) -> None:
    sent = {"$browser": "MyApp", "$bot": True, "plan": "pro"}
    found = enrich(sent, {"userAgent": CHROME})
    assert found["$browser"] == "MyApp" and found["$os"] == "Windows"
    assert "$bot" not in found and found["plan"] == "pro"
    assert enrich({"$bot": False}, {"userAgent": CRAWLERS[0]})["$bot"] is True


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        ("81.2.69.160", "GB"),
        ("193.0.6.139", "NL"),
        ("133.242.0.3", "JP"),
        ("2001:4860:4860::8888", "US"),
    ],
)
def test_public_addresses_have_a_country(enrich: Enrich, ip: str, country: str) -> None:
    assert enrich({}, {"ip": ip})["$country"] == country


@pytest.mark.parametrize(
    "ip", ["10.1.2.3", "192.168.1.1", "172.16.0.1", "127.0.0.1", "::1", "fd00::1", "100.64.0.1",
           "169.254.1.1", "not an address"]
)  # fmt: skip
def test_private_addresses_have_no_country(enrich: Enrich, ip: str) -> None:
    assert "$country" not in enrich({}, {"ip": ip})


def test_an_event_s_own_campaign_tags_decide_its_channel(enrich: Enrich) -> None:
    """A server-side call's campaign (Segment's context.campaign, a utm_* property) with no
    tags in its URL, or no URL at all."""
    emailed = {"utm_source": "newsletter", "utm_medium": "email"}
    assert enrich(dict(emailed), {})["$channel"] == "email"
    page = {"$url": "https://shop.test/pricing", "utm_medium": "cpc", "utm_source": "google"}
    assert enrich(page, {})["$channel"] == "paid"
    tagged = {"$url": "https://shop.test/?utm_medium=social&utm_source=x", "utm_medium": "email"}
    assert enrich(tagged, {})["$channel"] == "email"  # the event's own tags win
    clicked = {"$url": "https://shop.test/?gclid=abc", "utm_source": "newsletter"}
    assert enrich(clicked, {})["$channel"] == "paid"  # an ad click is still paid
    assert enrich({"$url": "https://shop.test/"}, {})["$channel"] == "direct"


def test_no_context_adds_nothing(enrich: Enrich) -> None:
    assert enrich({"plan": "pro"}, {}) == {"plan": "pro"}


def test_the_staged_row_is_enriched_and_holds_no_address() -> None:
    record = {
        "id": str(uuid.uuid4()),
        "projectId": str(uuid.uuid4()),
        "event": "$pageview",
        "timestamp": "2026-02-01T12:00:00.000000Z",
        "receivedAt": "2026-02-01T12:00:01.000000Z",
        "distinctId": "u1",
        "sessionId": "s1",
        "properties": {"$url": "https://example.com/?utm_source=google&utm_medium=cpc"},
        "context": {"userAgent": CRAWLERS[0], "ip": "81.2.69.160"},
    }
    received = receive(RawRecord(0, 1, orjson.dumps(record)))
    assert received.item is not None and received.item.bot
    assert b"81.2.69.160" not in received.staged
    for text in (
        b'"$country":"GB"',
        b'"$bot":true',
        b'"$channel":"paid"',
        b'"utm_source":"google"',
    ):
        assert text in received.staged
