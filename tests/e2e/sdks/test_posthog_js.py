"""posthog-js (npm's array.full.no-external.js, the all-in-one build that loads nothing
else) in headless Chromium, pointed at the real gateway by its api_host: the events on the
topic, mapped (issue 19, docs/dropin.md (PostHog)).

The bundle is installed once with npm into .local/npm/ (pinned version); without npm, or
without the registry, the test is skipped and says why.
"""

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Page, Request

from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.support.kafka import read_topic

pytestmark = pytest.mark.e2e

VERSION = "1.449.2"
REPO_ROOT = Path(__file__).resolve().parents[3]
CACHE = REPO_ROOT / ".local" / "npm" / f"posthog-js-{VERSION}"
BUNDLE = CACHE / "node_modules" / "posthog-js" / "dist" / "array.full.no-external.js"

# posthog-js leaves HeadlessChrome's events out unless told not to; the gateway answers no
# /flags/ or remote config (docs/dropin.md (PostHog)), so the client is told not to ask.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><script src="/posthog.js"></script>
</head><body><h1>{title}</h1><script>
posthog.init({key}, {{
  api_host: {host},
  opt_out_useragent_filter: true,
  advanced_disable_flags: true,
  disable_session_recording: true,
  disable_surveys: true,
  autocapture: false
}});
</script></body></html>
"""


def posthog_js() -> Path:
    if BUNDLE.exists():
        return BUNDLE
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (apt-get install npm): posthog-js comes from npm")
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(CACHE),
            f"posthog-js@{VERSION}",
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not BUNDLE.exists():
        pytest.skip(f"npm could not install posthog-js@{VERSION}: {done.stderr[-300:]!r}")
    return BUNDLE


@pytest.fixture
async def shop(gateway: TestClient, project: CreatedProject) -> AsyncIterator[str]:
    """The customer's site: posthog-js and a page for any path; its URL."""
    bundle = await asyncio.to_thread(posthog_js)
    host = str(gateway.server.make_url("")).rstrip("/")

    async def page(request: web.Request) -> web.Response:
        html = PAGE.format(
            title=f"Page {request.path}",
            key=json.dumps(project.public_key),
            host=json.dumps(host),
        )
        return web.Response(text=html, content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        return web.Response(body=bundle.read_bytes(), content_type="application/javascript")

    app = web.Application()
    app.router.add_get("/posthog.js", script)
    app.router.add_get("/{path:.*}", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def test_posthog_js_pageviews_events_and_identify_reach_the_topic(
    page: Page, shop: str, settings: Settings, services: Any, project: CreatedProject
) -> None:
    sent: list[tuple[str, bytes]] = []

    def seen(request: Request) -> None:
        if request.method == "POST":
            sent.append((request.url, (request.post_data_buffer or b"")[:3]))

    page.on("request", seen)
    await page.goto(f"{shop}/pricing?utm_source=news", referer="https://news.example.com/launch")
    await page.evaluate("posthog.capture('signup', {plan: 'pro', seats: 3})")
    anonymous = await page.evaluate("posthog.get_distinct_id()")
    await page.evaluate("posthog.identify('user_42', {email: 'max@example.com'})")
    await page.evaluate("posthog.capture('upgrade')")

    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 4, 15)
    by_event = {str(r["event"]): r for r in records}
    assert sorted(by_event) == ["$identify", "$pageview", "signup", "upgrade"]
    view = by_event["$pageview"]
    properties: dict[str, Any] = view["properties"]  # type: ignore[assignment]
    assert properties["$url"] == f"{shop}/pricing?utm_source=news"
    assert properties["$pathname"] == "/pricing"
    assert properties["$referrer"] == "https://news.example.com/launch"
    assert properties["$title"] == "Page /pricing"
    assert properties["utm_source"] == "news"
    assert "token" not in properties and "utm_medium" not in properties  # null: left out
    assert view["distinctId"] == anonymous
    assert "Chrome" in str(view["context"]["userAgent"])  # type: ignore[index]
    assert view["context"]["origin"] == shop  # type: ignore[index]
    # posthog-js's own session id, the same on every event of the visit.
    assert len({r["sessionId"] for r in records}) == 1
    assert not str(view["sessionId"]).startswith("$s_")

    merge = by_event["$identify"]
    assert merge["distinctId"] == "user_42"
    assert merge["properties"]["$anonDistinctId"] == anonymous  # type: ignore[index]
    assert by_event["upgrade"]["distinctId"] == "user_42"
    assert len({r["insertId"] for r in records}) == 4

    # posthog-js gzips its bodies (CompressionStream) and, in this release, says so nowhere: no
    # Content-Encoding, no ?compression= (the gateway knows gzip by its magic bytes).
    posts = [head for url, head in sent if "/e/" in url]
    assert posts and all(head == b"\x1f\x8b\x08" for head in posts), sent
