"""Headless Chromium for browser tests: Debian's package driven by Playwright (Playwright
never downloads a browser here), a fresh profile per test, a screenshot after each."""

import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support.tools import require_tool

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium(viewport: dict[str, int] | None = None) -> AsyncIterator[BrowserContext]:
    require_tool(CHROMIUM, "chromium")
    with tempfile.TemporaryDirectory(prefix="ra-chromium-") as profile:
        async with async_playwright() as playwright:
            options = {"viewport": viewport} if viewport else {}
            context = await playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True, **options
            )
            try:
                yield context
            finally:
                await context.close()


@asynccontextmanager
async def screenshotted_page(
    browser: BrowserContext,
    request: pytest.FixtureRequest,
    prefix: str = "",
    full_page: bool = False,
) -> AsyncIterator[Page]:
    """A page with a 10 s default timeout, screenshotted into test-artifacts/ afterwards."""
    page = await browser.new_page()
    page.set_default_timeout(10_000)
    yield page
    if not page.is_closed():
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
        await page.screenshot(path=str(ARTIFACTS / f"{prefix}{name}.png"), full_page=full_page)
