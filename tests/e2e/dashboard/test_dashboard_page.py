"""The dashboard in headless Chromium: log in, open the demo project, read the charts and
check them against POST /api/query; a saved dashboard; the ops view."""

import json
from typing import Any

import aiohttp
import psycopg
import pytest
from playwright.async_api import Page, Response

from tests.e2e.dashboard.conftest import Stack

pytestmark = pytest.mark.e2e


def is_query(kind: str, **fields: Any) -> Any:
    """Matches the answer to a query of this type whose body holds ``fields`` (an earlier
    query still in flight must not be taken for the one a step triggered)."""

    def match(response: Response) -> bool:
        if not response.url.endswith("/api/query") or response.request.method != "POST":
            return False
        body = json.loads(response.request.post_data or "{}")
        return body.get("type") == kind and all(body.get(k) == v for k, v in fields.items())

    return match


async def log_in(page: Page, stack: Stack) -> None:
    await page.goto(f"{stack.url}/dashboard/")
    await page.get_by_label("Email").fill(stack.email)
    await page.get_by_label("Password").fill(stack.password)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_label("Project").wait_for()


async def table_rows(page: Page) -> list[tuple[str, int]]:
    rows = await page.eval_on_selector_all(
        ".card-timeseries table.data tbody tr",
        "rows => rows.map(r => [r.querySelector('time').getAttribute('datetime'),"
        " r.querySelector('td').textContent])",
    )
    return [(t, int(v.replace(",", ""))) for t, v in rows]


async def ask(stack: Stack, page: Page, body: dict[str, Any]) -> dict[str, Any]:
    """The same query, asked by the test itself with the browser's session cookie."""
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with (
        aiohttp.ClientSession(cookies=cookies) as http,
        http.post(f"{stack.url}/api/query", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_timeseries_interval_and_funnel_match_the_query_api(page: Page, stack: Stack) -> None:
    # The page runs under its Content-Security-Policy (no inline code or styles): nothing
    # it does may be refused by it.
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    await log_in(page, stack)
    assert await page.get_by_label("Project").input_value() == stack.slug
    card = page.locator(".card-timeseries")

    # Last 24 hours by hour: every hour bucket, values as the query API answers.
    await page.get_by_label("Date range").select_option("24h")
    async with page.expect_response(is_query("timeseries", interval="hour")) as seen:
        await page.get_by_label("Interval").select_option("hour")
    answer = await (await seen.value).json()
    assert answer["interval"] == "hour" and len(answer["data"]) in (24, 25)
    await card.get_by_text(f"Data table ({len(answer['data'])} points)").wait_for()
    shown = await table_rows(page)
    assert shown == [(p["t"], p["value"]) for p in answer["data"]]
    assert sum(v for _, v in shown) == stack.pageviews
    request = json.loads((await seen.value).request.post_data or "{}")
    assert (await ask(stack, page, request))["data"] == answer["data"]
    await card.locator("canvas").first.wait_for()  # uPlot drew it
    assert await card.locator(".badge").text_content() == "up to date"

    # By day: fewer, bigger buckets; still what the query API says.
    async with page.expect_response(is_query("timeseries", interval="day")) as seen:
        await page.get_by_label("Interval").select_option("day")
    answer = await (await seen.value).json()
    assert answer["interval"] == "day" and len(answer["data"]) in (1, 2)
    await card.get_by_text(f"Data table ({len(answer['data'])} points)").wait_for()
    assert await table_rows(page) == [(p["t"], p["value"]) for p in answer["data"]]
    assert sum(v for _, v in await table_rows(page)) == stack.pageviews

    # The metric tile and the breakdown with "other".
    metric = page.locator(".card-metric .metric-value")
    assert await metric.get_attribute("data-value") == str(stack.pageviews)
    await page.get_by_label("Top", exact=True).fill("2")
    async with page.expect_response(is_query("breakdown", limit=2)) as seen:
        await page.get_by_role("button", name="Run").click()
    breakdown = await (await seen.value).json()
    rows = page.locator(".card-breakdown tbody tr")
    await rows.nth(2).wait_for()
    assert await rows.count() == 3 and breakdown["other"] > 0
    assert await rows.nth(2).locator("th").text_content() == "other"

    # The funnel: users per step and conversion rates.
    users = page.locator(".card-funnel .funnel-users")
    await users.nth(2).wait_for()
    assert [int(await u.get_attribute("data-users") or -1) for u in await users.all()] == list(
        stack.funnel
    )
    rates = await page.locator(".card-funnel .funnel-rates").all_text_contents()
    assert rates[1].startswith("50% of first step") and "50% of previous" in rates[2]
    assert refused == []


async def test_a_saved_dashboard_renders_as_a_grid(page: Page, stack: Stack) -> None:
    await log_in(page, stack)
    await page.get_by_label("View", exact=True).select_option("Growth")
    grid = page.locator("#saved-grid .card")
    await page.locator("#saved-grid .card-metric .metric-value").wait_for()
    assert await grid.count() == 3
    assert await page.locator("#saved-grid h3").all_text_contents() == [
        "Views per hour",
        "Sign-ups",
        "Top pages",
    ]
    assert await page.locator("#saved-grid .card-metric .metric-value").text_content() == "6"
    # Reachable by keyboard: the view picker, then the controls, in document order.
    await page.get_by_label("View", exact=True).focus()
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate("document.activeElement.id") == "project"


async def test_the_ops_view_shows_lag_per_partition(page: Page, stack: Stack) -> None:
    await log_in(page, stack)
    await page.get_by_role("link", name="Ops").click()
    await page.locator("#partitions tbody tr").nth(11).wait_for()
    for name in ("kafka", "postgres", "redis"):
        assert await page.locator(f"[data-service={name}]").text_content() == "up"
    first = page.locator("#partitions tbody tr[data-partition='0'] td")
    assert await first.all_text_contents() == ["2", "1", "1", await first.nth(3).text_content()]
    assert await page.locator("[data-figure=lag]").text_content() == str(
        sum(stack.produced.values()) - sum(stack.committed.values())
    )
    assert await page.locator("[data-figure=dead]").text_content() == "0"
    assert await page.locator("#lag-banner").is_hidden()
    # Beside the pipeline, every project's usage this month (issue 15).
    assert await page.locator("[data-figure=overage]").text_content() == "0"
    demo = page.locator("#projects tbody tr[data-project=demo]")
    assert await demo.locator("td[data-column=limit]").text_content() == "1,000,000"


async def test_a_member_sees_their_projects_usage_and_not_the_pipeline(
    page: Page, stack: Stack, pg_schema: str
) -> None:
    """Issue 15: not an operator, the analyst's ops page is their projects' table, with the
    events counted past the limit, instead of a refusal."""
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute("DELETE FROM operators")
        conn.execute(
            "INSERT INTO usage_months (project_id, month, used)"
            " SELECT id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1000250"
            " FROM projects WHERE slug = %s"
            " ON CONFLICT (project_id, month) DO UPDATE SET used = excluded.used",
            (stack.slug,),
        )
    await log_in(page, stack)
    await page.get_by_role("link", name="Ops").click()
    row = page.locator(f"#projects tbody tr[data-project={stack.slug}]")
    await row.wait_for()
    cells = await row.locator("td").all_text_contents()
    assert cells == ["pro", "1,000,250", "1,000,000", "0", "250"]
    assert await page.locator("#projects tbody tr").count() == 1
    assert await page.locator("#ops-view").is_hidden()
    assert await page.locator("#ops-error").text_content() == ""
    assert await page.locator("#ops-heading").text_content() == "Your projects"


async def test_a_custom_range_is_wall_clock_time_in_the_chosen_timezone(
    page: Page, stack: Stack
) -> None:
    await log_in(page, stack)
    await page.get_by_label("Timezone").select_option("America/New_York")
    await page.get_by_label("Date range").select_option("custom")
    await page.get_by_label("From", exact=True).fill("2026-11-20T00:00")
    await page.get_by_label("To", exact=True).fill("2026-11-21T00:00")
    await page.get_by_label("Interval").select_option("hour")

    def custom(response: Response) -> bool:
        body = (
            json.loads(response.request.post_data or "{}")
            if is_query("timeseries")(response)
            else {}
        )
        return bool(body) and body["dateRange"]["start"].startswith("2026-11-20")

    async with page.expect_response(custom) as seen:
        await page.keyboard.press("Enter")  # submits the form like Run
    response = await seen.value
    request = json.loads(response.request.post_data or "{}")
    # EST is UTC-5 in November: midnight in New York is 05:00 UTC; the end is inclusive.
    assert request["dateRange"] == {
        "start": "2026-11-20T05:00:00.000Z",
        "end": "2026-11-21T04:59:59.999Z",
    }
    answer = await response.json()
    assert answer["timezone"] == "America/New_York" and len(answer["data"]) == 24
    assert answer["data"][0]["t"] == "2026-11-20T00:00:00-05:00"


async def test_a_busy_query_share_is_asked_again_after_retry_after(
    page: Page, stack: Stack
) -> None:
    # The query API answers 429 QUERY_CONCURRENCY_LIMIT when a project's share is busy
    # (a 24-chart dashboard can meet it): the card waits and asks again, not an error.
    refused: list[str] = []

    async def busy_once(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        if body.get("type") == "metric" and not refused:
            refused.append(body["type"])
            await route.fulfill(
                status=429,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"error": "Too many queries", "code": "QUERY_CONCURRENCY_LIMIT"}),
            )
        else:
            await route.continue_()

    await page.route("**/api/query", busy_once)
    await log_in(page, stack)
    metric = page.locator(".card-metric .metric-value")
    await metric.wait_for()
    assert refused == ["metric"]
    assert await metric.get_attribute("data-value") == str(stack.pageviews)
    assert await page.locator(".card-metric .error").count() == 0
