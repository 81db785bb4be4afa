"""The overview's cards of issue 18 in headless Chromium: top browsers, countries and
channels from the workers' enrichment; the retention triangle, the paths Sankey and the
lifecycle bars against a brute-force ground truth (person_truth.py); the bots toggle.

The events go through the workers' own sink, so enrichment (user agents and addresses in
``context``), the crawler flag and the ``$identify`` merge are what the workers write."""

import dataclasses
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, Response

import control_plane.app
import dashboard.app
import query_api.app
from app_api.app import Mount, create_app
from contracts.events import EventRecord
from control_plane.accounts import create_user
from control_plane.members import add_member
from control_plane.passwords import Passwords
from control_plane.settings import Settings as ControlPlaneSettings
from dashboard.settings import Settings as DashboardSettings
from migrations.runner import apply_migrations
from query_api.settings import Settings as QuerySettings
from tests.e2e.dashboard.conftest import EMAIL, PASSWORD, Stack, fill, free_port
from tests.e2e.dashboard.test_dashboard_page import is_query, log_in
from tests.fixtures.services import Services
from tests.integration.query_api import person_truth
from tests.integration.stream_workers.truth import record
from tests.support.projects import new_project

pytestmark = pytest.mark.e2e

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# (user agent, the browser ua-parser names), (address, its country), (page and referrer,
# the channel the workers' rules give them): each visitor gets one of each.
BROWSERS = [(CHROME, "Chrome"), (FIREFOX, "Firefox"), (IPHONE, "Mobile Safari")]
ADDRESSES = [("81.2.69.160", "GB"), ("8.8.8.8", "US"), ("195.154.0.1", "FR"), ("85.214.0.1", "DE")]
SOURCES: list[tuple[dict[str, str], str]] = [
    ({"$url": "https://shop.example/"}, "direct"),
    ({"$url": "https://shop.example/", "$referrer": "https://www.google.com/"}, "search"),
    ({"$url": "https://shop.example/", "$referrer": "https://twitter.com/"}, "social"),
    ({"$url": "https://shop.example/?utm_source=news&utm_medium=email"}, "email"),
    ({"$url": "https://shop.example/?utm_source=google&utm_medium=cpc"}, "paid"),
]
ALIASES = {"anon-1": "u1"}  # anon-1 logs in as u1
BOT_EVENTS = 7


@dataclass(frozen=True)
class Load:
    records: list[EventRecord]  # as sent
    stored: list[EventRecord]  # as the workers store them: the crawler's flagged $bot
    pageviews: int  # browsers' $pageview events, crawlers' left out
    top: dict[str, Counter[str]]  # $browser, $country, $channel → pageviews per value


def visitor(n: int) -> tuple[tuple[str, str], tuple[str, str], tuple[dict[str, str], str]]:
    return BROWSERS[n % 3], ADDRESSES[n % 4], SOURCES[n % 5]


def generate(project: str, now: datetime) -> Load:
    """Twelve visitors over the last six days (views, sign-ups, purchases), one of them
    first anonymous and then logged in, and a crawler's page views."""
    rng = random.Random(18)
    records: list[EventRecord] = []
    top: dict[str, Counter[str]] = {k: Counter() for k in ("$browser", "$country", "$channel")}

    def add(event: str, at: datetime, who: str, n: int, **extra: Any) -> None:
        (agent, browser), (address, country), (page, channel) = visitor(n)
        r = record(project, event, at, who, session_id=f"s-{who}", properties={**page, **extra})
        records.append(dataclasses.replace(r, context={"userAgent": agent, "ip": address}))
        if event == "$pageview":
            for key, value in (("$browser", browser), ("$country", country), ("$channel", channel)):
                top[key][value] += 1

    start = now - timedelta(days=6, hours=12)
    for n in range(12):
        days = sorted(rng.sample(range(7), rng.randrange(1, 5)))
        for day in days:
            at = start + timedelta(days=day, minutes=rng.randrange(600))
            add("$pageview", at, f"u{n}", n)
            if rng.random() < 0.5:
                add("signup", at + timedelta(minutes=2), f"u{n}", n)
            if rng.random() < 0.3:
                add("purchase", at + timedelta(minutes=4), f"u{n}", n)
    # anon-1 browses on the first day, then logs in as u1: one person in every card.
    add("$pageview", start + timedelta(minutes=5), "anon-1", 1)
    add("signup", start + timedelta(minutes=6), "anon-1", 1)
    add("$identify", start + timedelta(minutes=7), "u1", 1, **{"$anonDistinctId": "anon-1"})
    add("purchase", start + timedelta(days=1, minutes=8), "u1", 1)
    pageviews = sum(1 for r in records if r.event == "$pageview")
    stored = list(records)
    for i in range(BOT_EVENTS):
        crawl = record(project, "$pageview", start + timedelta(hours=5 * i), f"crawler-{i % 2}")
        records.append(
            dataclasses.replace(crawl, context={"userAgent": GOOGLEBOT, "ip": "8.8.8.8"})
        )
        stored.append(dataclasses.replace(crawl, properties={"$bot": True}))
    return Load(records, stored, pageviews, top)


@pytest.fixture
async def cards(
    services: Services, pg_schema: str, kafka_topic: str, unique_group: str, redis_prefix: str
) -> AsyncIterator[tuple[Stack, Load]]:
    apply_migrations(pg_schema)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    project = await new_project(pg_schema, "demo", "pro")
    control = ControlPlaneSettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        app_origins=(origin,),
        relay_enabled=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    async with await psycopg.AsyncConnection.connect(pg_schema, autocommit=True) as conn:
        await create_user(conn, EMAIL, await Passwords(control).hash(PASSWORD))
        await add_member(conn, project.id, EMAIL, "member")
    load = generate(project.id, datetime.now(UTC))
    await fill(pg_schema, services.redis_url, redis_prefix, unique_group, kafka_topic, load.records)
    query = QuerySettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        app_origins=(origin,),
    )
    pages = DashboardSettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        dead_letter_topic=f"{kafka_topic}-dlq",
    )
    root = create_app(
        [
            Mount(
                "control_plane",
                control_plane.app.MOUNT_PREFIX,
                control_plane.app.create_app(control),
            ),
            Mount("query_api", query_api.app.MOUNT_PREFIX, query_api.app.create_app(query)),
            Mount("dashboard", dashboard.app.MOUNT_PREFIX, dashboard.app.create_app(pages)),
        ]
    )
    server = TestServer(root, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        stack = Stack(origin, EMAIL, PASSWORD, "demo", load.pageviews, (0, 0, 0), {}, {})
        yield stack, load
    finally:
        await server.close()


def span(response: Response) -> tuple[datetime, datetime]:
    """The request's range as person_truth takes it: [start, end + 1 ms)."""
    body = json.loads(response.request.post_data or "{}")
    start = datetime.fromisoformat(body["dateRange"]["start"])
    end = datetime.fromisoformat(body["dateRange"]["end"]) + timedelta(milliseconds=1)
    return start, end


async def top_rows(page: Page, key: str) -> dict[str, int]:
    rows = page.locator(f".card-top[data-breakdown='{key}'] tbody tr")
    await rows.first.wait_for()
    shown = await rows.evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent,"
        " r.querySelector('td.num').textContent])"
    )
    return {name: int(value.replace(",", "")) for name, value in shown}


async def test_top_browsers_countries_and_channels_show_the_enriched_values(
    page: Page, cards: tuple[Stack, Load]
) -> None:
    stack, load = cards
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    await log_in(page, stack)
    assert await top_rows(page, "$browser") == dict(load.top["$browser"])
    assert await top_rows(page, "$country") == dict(load.top["$country"])
    assert await top_rows(page, "$channel") == dict(load.top["$channel"])
    # No crawler among them; a unique count says what it counts (persons read raw, ids
    # from rollups), as the answer does.
    assert set(load.top["$browser"]) == {"Chrome", "Firefox", "Mobile Safari"}
    async with page.expect_response(is_query("breakdown", breakdown="$browser")) as seen:
        await page.get_by_label("Metric").select_option("unique_users")
    by = (await (await seen.value).json())["meta"]["uniqueBy"]
    browsers = page.locator(".card-top[data-breakdown='$browser']")
    await browsers.locator(f".unique-by[data-unique-by={by}]").wait_for()
    words = {"person": "persons", "distinctId": "ids"}
    assert await browsers.locator(".unique-by").text_content() == f" · unique {words[by]}"
    assert await top_rows(page, "$browser") == {"Chrome": 4, "Firefox": 4, "Mobile Safari": 4}
    assert refused == []


async def test_retention_triangle_and_lifecycle_equal_brute_force(
    page: Page, cards: tuple[Stack, Load]
) -> None:
    stack, load = cards
    async with (
        page.expect_response(is_query("retention")) as retention,
        page.expect_response(is_query("lifecycle")) as lifecycle,
    ):
        await log_in(page, stack)
    start, end = span(await retention.value)
    expected = person_truth.retention(
        load.stored, ALIASES, "$pageview", "$pageview", start, end, "day", "UTC"
    )
    card = page.locator(".card-retention")
    await card.locator("tbody tr").first.wait_for()
    shown = await card.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => ({start: r.dataset.start, size: Number(r.dataset.size),"
        " returned: [...r.querySelectorAll('td[data-count]')].map(c => Number(c.dataset.count))}))"
    )
    assert shown == expected
    assert sum(row["size"] for row in shown) == 12  # anon-1 and u1 are one person
    assert any(n > 0 for row in shown for n in row["returned"])
    assert await card.locator(".unique-by").text_content() == " · unique persons"

    start, end = span(await lifecycle.value)
    periods = person_truth.lifecycle(load.stored, ALIASES, "$pageview", start, end, "day", "UTC")
    rows = page.locator(".card-lifecycle tbody tr")
    await rows.first.wait_for(state="attached")  # in the closed "Data table"
    drawn = await rows.evaluate_all(
        "rows => rows.map(r => ({t: r.dataset.t, ...Object.fromEntries([...r.querySelectorAll("
        "'td[data-kind]')].map(c => [c.dataset.kind, Number(c.textContent)]))}))"
    )
    assert drawn == periods
    assert await page.locator(".card-lifecycle .life-bar").count() == len(periods)

    # Another return event from the card's own form.
    async with page.expect_response(is_query("retention", returnEvent="purchase")) as again:
        await page.get_by_label("Return event").fill("purchase")
        await page.get_by_label("Return event").press("Enter")
    start, end = span(await again.value)
    expected = person_truth.retention(
        load.stored, ALIASES, "$pageview", "purchase", start, end, "day", "UTC"
    )
    answer = await (await again.value).json()
    assert answer["cohorts"] == expected


async def test_paths_nodes_equal_brute_force(page: Page, cards: tuple[Stack, Load]) -> None:
    stack, load = cards
    async with page.expect_response(is_query("paths")) as seen:
        await log_in(page, stack)
    start, end = span(await seen.value)
    nodes, links = person_truth.paths(load.stored, ALIASES, "$pageview", "next", 3, 5, start, end)
    card = page.locator(".card-paths")
    await card.locator("g.path-node").first.wait_for()
    shown = await card.locator("g.path-node").evaluate_all(
        "gs => gs.map(g => [Number(g.dataset.step), g.dataset.other === 'true' ? null :"
        " g.dataset.event, Number(g.dataset.persons)])"
    )
    assert {tuple(n) for n in shown} == nodes and len(shown) == len(nodes)
    assert (0, "$pageview", 12) in nodes  # anon-1's views count for u1's person
    assert person_truth.answered_paths(await (await seen.value).json())[1] == links
    assert await card.locator("path.path-link").count() == len(links)
    assert await card.locator(".unique-by").text_content() == " · unique persons"

    # Two events per step: the rest of each step is one "Other" node, drawn grey.
    async with page.expect_response(is_query("paths", limit=2)) as seen:
        await page.get_by_label("Events per step").select_option("2")
    start, end = span(await seen.value)
    nodes, _ = person_truth.paths(load.stored, ALIASES, "$pageview", "next", 3, 2, start, end)
    assert any(event is None for _, event, _ in nodes)
    others = card.locator("g.path-node.other")
    await others.first.wait_for()
    shown = await card.locator("g.path-node").evaluate_all(
        "gs => gs.map(g => [Number(g.dataset.step), g.dataset.other === 'true' ? null :"
        " g.dataset.event, Number(g.dataset.persons)])"
    )
    assert {tuple(n) for n in shown} == nodes
    assert "Other (" in (await others.first.text_content() or "")


async def test_the_bots_toggle_counts_the_crawlers_events(
    page: Page, cards: tuple[Stack, Load]
) -> None:
    stack, load = cards
    await log_in(page, stack)
    metric = page.locator(".card-metric .metric-value")
    await metric.wait_for()
    assert await metric.get_attribute("data-value") == str(load.pageviews)
    async with page.expect_response(is_query("metric", includeBots=True)) as seen:
        await page.get_by_label("Include bots").check()
    answer = await (await seen.value).json()
    assert answer["meta"]["source"] == "raw"
    await page.locator(
        f".card-metric .metric-value[data-value='{load.pageviews + BOT_EVENTS}']"
    ).wait_for()
    assert await metric.get_attribute("data-value") == str(load.pageviews + BOT_EVENTS)
