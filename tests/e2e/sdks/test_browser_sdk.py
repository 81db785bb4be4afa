"""The browser SDK in headless Chromium against the real gateway: the events on the topic."""

import asyncio
import json
import time
from typing import Any

import pytest
from playwright.async_api import Page

from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.e2e.sdks.conftest import Site
from tests.integration.sdks.fault_proxy import FaultProxy
from tests.support.kafka import read_topic

pytestmark = pytest.mark.e2e


async def topic(services: Any, settings: Settings, expected: int) -> list[dict[str, Any]]:
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, expected, 10)
    return sorted(records, key=lambda r: (str(r["timestamp"]), str(r["event"])))


async def queued(page: Page) -> int:
    return int(await page.evaluate("realanalytics._client._queue().length"))


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_pageviews_and_tracked_events_reach_the_topic(
    page: Page, site: Site, proxy: FaultProxy, settings: Settings, services: Any
) -> None:
    await page.goto(f"{site.url}/pricing", referer="https://news.example.com/launch")
    assert await page.evaluate("realanalytics.track('signup', {plan: 'pro', seats: 3})")
    await page.evaluate("history.pushState({}, '', '/docs/start')")
    await page.evaluate("history.replaceState({}, '', '/docs/start')")  # same path: no view

    records = await topic(services, settings, 3)
    assert [(r["event"], r["properties"]["$pathname"]) for r in records] == [
        ("$pageview", "/pricing"),
        ("signup", "/pricing"),
        ("$pageview", "/docs/start"),
    ]
    first, signup, second = records
    assert first["properties"]["$referrer"] == "https://news.example.com/launch"
    assert "$browser" not in first["properties"]  # the workers add it (docs/analytics.md)
    assert "Chrome" in first["context"]["userAgent"]
    assert first["properties"]["$title"] == "Page /pricing"
    assert second["properties"]["$referrer"] == f"{site.url}/pricing"
    assert signup["properties"] | {"plan": "pro", "seats": 3} == signup["properties"]
    assert len({r["distinctId"] for r in records}) == 1
    assert str(first["distinctId"]).startswith("anon-")
    assert len({r["sessionId"] for r in records}) == 1
    assert len({r["insertId"] for r in records}) == 3
    assert first["context"]["origin"] == site.url
    # The envelope as text/plain: no CORS preflight, every request a POST.
    assert {(s.method, s.content_type) for s in proxy.seen} == {("POST", "text/plain")}

    # identify: the same visitor under a known id, merged with the anonymous one by an
    # $identify event (sent once); reset: a new anonymous visitor.
    await page.evaluate("realanalytics.identify('user_42'); realanalytics.track('login')")
    await page.evaluate("realanalytics.identify('user_42')")  # again: nothing sent
    await page.evaluate("realanalytics.reset(); realanalytics.track('logout_seen')")
    merge, login, logout = (await topic(services, settings, 6))[3:]
    assert (merge["event"], merge["distinctId"]) == ("$identify", "user_42")
    assert merge["properties"]["$anonDistinctId"] == first["distinctId"]
    assert (login["event"], login["distinctId"]) == ("login", "user_42")
    assert logout["distinctId"] not in ("user_42", first["distinctId"])
    assert logout["sessionId"] != first["sessionId"]
    # Persisted: a reload keeps the anonymous id.
    anonymous = await page.evaluate("realanalytics.distinctId")
    await page.reload()
    assert await page.evaluate("realanalytics.distinctId") == anonymous


async def test_page_hide_flushes_the_queue_with_send_beacon(
    page: Page, site: Site, proxy: FaultProxy, settings: Settings, services: Any
) -> None:
    site.options["flushInterval"] = 600_000  # only the page hide can send
    await page.goto(f"{site.url}/checkout")
    await wait_until(lambda: _is_empty(page))  # init sends at once what is queued: the view
    await page.evaluate("realanalytics.track('add_to_cart', {sku: 'A1'})")
    await page.evaluate("realanalytics.track('checkout_started')")
    assert await queued(page) == 2 and len(proxy.posts()) == 1
    await page.evaluate(
        """
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
        """
    )
    records = await topic(services, settings, 3)
    assert sorted(r["event"] for r in records) == ["$pageview", "add_to_cart", "checkout_started"]
    assert await queued(page) == 0
    beacon = proxy.posts()[1]
    assert beacon.content_type == "text/plain"
    envelope = json.loads(beacon.body)
    assert envelope["apiKey"] == site.public_key and len(envelope["events"]) == 2

    # Navigating away fires pagehide: the next page's events go the same way.
    await page.evaluate("realanalytics.track('leaving')")
    await page.goto("about:blank")
    records = await topic(services, settings, 4)
    assert "leaving" in [r["event"] for r in records]


async def test_a_reload_loses_nothing(
    page: Page, site: Site, proxy: FaultProxy, settings: Settings, services: Any
) -> None:
    site.options["flushInterval"] = 600_000
    await page.goto(f"{site.url}/a")
    await wait_until(lambda: _is_empty(page))
    await page.evaluate("realanalytics.track('kept', {n: 1})")
    # A browser that refuses the Beacon: the queue stays in localStorage.
    await page.evaluate("navigator.sendBeacon = () => false")
    await page.reload()  # the new page load sends what the last one left
    records = await topic(services, settings, 3)
    assert sorted(r["event"] for r in records) == ["$pageview", "$pageview", "kept"]


async def test_a_503_is_retried_after_retry_after(
    page: Page,
    site: Site,
    proxy: FaultProxy,
    project: CreatedProject,
    settings: Settings,
    services: Any,
) -> None:
    proxy.fail_next(503, retry_after=1)
    await page.goto(f"{site.url}/status")
    records = await topic(services, settings, 1)
    assert [r["event"] for r in records] == ["$pageview"]
    # The queue empties once the browser has the retry's answer; the proxy records that
    # answer before passing it on (the record reaches the topic sooner).
    await wait_until(lambda: _is_empty(page))
    failed, retried = proxy.posts()[:2]
    assert (failed.status, retried.status) == (503, 200)
    assert retried.at - failed.at >= 1.0
    assert json.loads(failed.body)["events"] == json.loads(retried.body)["events"]


async def _is_empty(page: Page) -> bool:
    return await queued(page) == 0


async def test_a_400_is_dropped_once_and_the_monthly_limit_stops_sending(
    page: Page, site: Site, proxy: FaultProxy, settings: Settings, services: Any
) -> None:
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    details = [{"index": 0, "field": "timestamp", "message": "Not a valid datetime."}]
    proxy.fail_next(400, body={"error": "Validation failed", "details": details})
    await page.goto(f"{site.url}/form")
    await wait_until(lambda: _is_empty(page))
    assert [p.status for p in proxy.posts()] == [400]  # not retried
    assert len([w for w in warnings if "HTTP 400" in w]) == 1

    limit = {
        "error": "Monthly event limit exceeded",
        "code": "EVENT_LIMIT_EXCEEDED",
        "limit": 10000,
        "used": 10000,
        "remaining": 0,
    }
    proxy.fail_next(429, body=limit)
    await page.evaluate("realanalytics.track('over_limit')")
    await wait_until(lambda: _stopped(page))
    assert await page.evaluate("realanalytics.track('refused')") is False
    await page.evaluate("realanalytics.flush()")
    await asyncio.sleep(1.0)  # three flush intervals: nothing more may be sent
    assert [p.status for p in proxy.posts()] == [400, 429]
    assert await queued(page) == 0
    assert any("monthly event limit" in w for w in warnings)
    assert await topic(services, settings, 1) == []


async def _stopped(page: Page) -> bool:
    return bool(await page.evaluate("realanalytics._client.stoppedUntil > Date.now()"))


async def test_the_session_survives_a_reload_and_rotates_after_30_idle_minutes(
    page: Page, site: Site, proxy: FaultProxy, settings: Settings, services: Any
) -> None:
    await page.goto(f"{site.url}/one")
    first = await page.evaluate("realanalytics.sessionId")
    await page.reload()
    assert await page.evaluate("realanalytics.sessionId") == first
    # 31 minutes of inactivity, without waiting them: age the stored last activity.
    await page.evaluate("realanalytics._client.session.lastActivity -= 31 * 60 * 1000")
    await page.evaluate("realanalytics.track('back_after_lunch')")
    records: list[dict[str, Any]] = []

    async def tracked() -> bool:
        records[:] = await read_topic(services.kafka_bootstrap, settings.events_topic, None, 1)
        return any(r["event"] == "back_after_lunch" for r in records)

    # The page views may arrive more than once (a reload re-sends what was not yet
    # acknowledged; the insertId makes the workers count it once), so wait for the event.
    await wait_until(tracked, timeout=20)
    sessions = {str(r["event"]): r["sessionId"] for r in records}
    assert sessions["$pageview"] == first
    assert sessions["back_after_lunch"] != first
    assert len({r["distinctId"] for r in records}) == 1
