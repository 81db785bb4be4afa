"""Browser SDK tests: headless Chromium (Debian's `chromium`, driven by Playwright) on a
page this test serves over http://127.0.0.1, sending to the real gateway through a proxy
that can inject faults. Screenshots land in test-artifacts/ (gitignored)."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, Page

# The gateway's fixtures and the fault proxy, reused as they are.
from tests.integration.ingest_gateway.conftest import (  # noqa: F401
    database,
    gateway,
    project,
    settings,
    settings_with,
)
from tests.integration.sdks.conftest import proxy  # noqa: F401
from tests.support.browser import chromium, screenshotted_page

REPO_ROOT = Path(__file__).resolve().parents[3]
SDK_FILE = REPO_ROOT / "sdks" / "js" / "realanalytics.js"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>realanalytics browser SDK test page</p>
<script src="/realanalytics.js"></script>
<script>realanalytics.init({key}, {options});</script>
</body></html>
"""


@dataclass
class Site:
    """The customer's site: any path serves a page that loads and initialises the SDK."""

    public_key: str
    options: dict[str, Any] = field(default_factory=dict)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/realanalytics.js", self._sdk)
        app.router.add_get("/{path:.*}", self._page)
        return app

    async def _sdk(self, request: web.Request) -> web.Response:
        return web.Response(body=SDK_FILE.read_bytes(), content_type="application/javascript")

    async def _page(self, request: web.Request) -> web.Response:
        html = PAGE.format(
            title=f"Page {request.path}",
            key=json.dumps(self.public_key),
            options=json.dumps(self.options),
        )
        return web.Response(text=html, content_type="text/html")


@pytest.fixture
async def site(project: Any, proxy: Any) -> AsyncIterator[Site]:  # noqa: F811
    site = Site(project.public_key, {"host": proxy.url, "flushInterval": 300})
    server = TestServer(site.app(), host="127.0.0.1")
    await server.start_server()
    site.url = str(server.make_url("")).rstrip("/")
    yield site
    await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


@pytest.fixture
async def page(browser: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    async with screenshotted_page(browser, request) as page:
        yield page
