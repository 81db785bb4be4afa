"""The ops page in headless Chromium shows each shard's last raw-retention run (issue 17)."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from playwright.async_api import Page

from tests.e2e.dashboard.conftest import Stack
from tests.e2e.dashboard.test_dashboard_page import log_in

pytestmark = pytest.mark.e2e


async def test_the_ops_page_shows_each_shards_last_retention_run(
    page: Page, stack: Stack, pg_schema: str
) -> None:
    finished = datetime.now(UTC) - timedelta(hours=1)
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO retention_runs (shard, started_at, finished_at, partitions, stray_rows,"
            " error) VALUES ('default', %s, %s, %s, 1200, NULL),"
            " ('default', %s, %s, '{}', 0, 'lock_timeout'), ('eu', %s, %s, '{}', 0, 'gone')",
            (
                finished - timedelta(seconds=90),
                finished,
                ["events_2025_01_p1", "events_2025_01_p2", "events_2025_02_p1"],
                finished - timedelta(days=1, seconds=5),
                finished - timedelta(days=1),
                finished - timedelta(seconds=5),
                finished,
            ),
        )
    await log_in(page, stack)
    await page.get_by_role("link", name="Ops").click()
    row = page.locator("#retention tbody tr[data-shard=default]")
    await row.wait_for()
    cells = await row.locator("td").all_text_contents()
    assert cells[1:] == ["90 s", "3", "1,200", "ok"]
    assert await row.get_attribute("data-failed") == "false"
    failed = page.locator("#retention tbody tr[data-shard=eu]")
    assert await failed.locator("td[data-column=outcome]").text_content() == "failed: gone"
    assert await page.locator("#retention tbody tr").count() == 2
