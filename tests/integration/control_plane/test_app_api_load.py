"""500 concurrent signed-in requests on the App API origin (logins, ``GET /api/me``,
queries): each answered 200, or 429/503 with Retry-After — never a 500 — and the origin
still answers afterwards. Real argon2 cost, real Redis and PostgreSQL."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app_api.app import Mount, create_app
from control_plane import app as control_app
from control_plane.settings import Settings
from query_api import app as query_app
from query_api.settings import Settings as QuerySettings
from tests.integration.control_plane.conftest import ORIGIN, PASSWORD, mailed_code

pytestmark = pytest.mark.integration

CONCURRENT = 500
KINDS = ("login", "me", "query")


@dataclass(frozen=True)
class Origin:
    url: str
    email: str
    cookie: str
    project: str


@pytest.fixture
async def origin(settings: Settings) -> AsyncIterator[Origin]:
    # The production cost (argon2id, 19 MiB, t=2): logins are CPU-bound, as deployed.
    settings = replace(
        settings,
        argon2_time_cost=2,
        argon2_memory_kib=19 * 1024,
        login_failures_per_account_address=10**6,
        login_failures_per_account=10**6,
        login_failures_per_ip=10**6,
    )
    query_settings = QuerySettings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        app_origins=(ORIGIN,),
    )
    root = create_app(
        [
            Mount("control_plane", control_app.MOUNT_PREFIX, control_app.create_app(settings)),
            Mount("query_api", query_app.MOUNT_PREFIX, query_app.create_app(query_settings)),
        ]
    )
    server = TestServer(root, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{url}/api/auth/signup", json={"email": email, "password": PASSWORD}
        )
        assert response.status == 202, await response.text()
        code = await mailed_code(Path(settings.mail_dir), email, "ra_confirm_")
        response = await session.post(f"{url}/api/auth/confirm", json={"token": code})
        assert response.status == 200, await response.text()
        cookie = response.cookies["ra_session"].value
        slug = f"load-{uuid.uuid4().hex[:8]}"
        response = await session.post(
            f"{url}/api/projects",
            json={"name": "Load", "slug": slug},
            cookies={"ra_session": cookie},
            headers={"Origin": ORIGIN},
        )
        assert response.status == 201, await response.text()
    try:
        yield Origin(url, email, cookie, slug)
    finally:
        await server.close()


async def call(
    session: aiohttp.ClientSession, origin: Origin, kind: str
) -> tuple[str, int, str | None, dict]:  # type: ignore[type-arg]
    cookies = {"ra_session": origin.cookie}
    if kind == "login":
        credentials = {"email": origin.email, "password": PASSWORD}
        response = await session.post(f"{origin.url}/api/auth/login", json=credentials)
    elif kind == "me":
        response = await session.get(f"{origin.url}/api/me", cookies=cookies)
    else:
        query = {
            "type": "metric",
            "projectId": origin.project,
            "event": "$pageview",
            "dateRange": {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z"},
        }
        response = await session.post(f"{origin.url}/api/query", json=query, cookies=cookies)
    async with response:
        return kind, response.status, response.headers.get("Retry-After"), await response.json()


async def test_500_concurrent_requests_get_answers_not_500s(origin: Origin) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        answers = await asyncio.gather(
            *(call(session, origin, KINDS[i % len(KINDS)]) for i in range(CONCURRENT))
        )
        tally = Counter((kind, status) for kind, status, _, _ in answers)
        assert {status for _, status in tally} <= {200, 429, 503}, tally
        for kind, status, retry_after, body in answers:
            if status in (429, 503):
                assert retry_after is not None and int(retry_after) >= 1, (kind, body)
                assert body["error"], (kind, body)
                if kind != "query":  # the query API's own refusals have their own shape
                    assert body["code"], (kind, body)
        for kind in KINDS:
            assert tally[(kind, 200)] > 0, tally
        # Still up: each kind answers 200 once the burst is over.
        for kind in KINDS:
            _, status, _, body = await call(session, origin, kind)
            assert status == 200, (kind, body)
