"""PostgreSQL stopped and started again under a running App API (control plane, query API
and dashboard on one origin): while it is down every route that needs it answers 503
``DATABASE_UNAVAILABLE`` with Retry-After, quickly, never a 500; once it is back the very
first login, query, project list and ops view succeed (the pools held connections the
restart had killed); logins refused meanwhile do not count against the account."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from psycopg_pool import AsyncConnectionPool

from app_api.app import Mount, create_app
from control_plane import app as control_app
from control_plane.app_keys import POOL as CONTROL_POOL
from control_plane.settings import Settings
from dashboard import app as dashboard_app
from dashboard.app_keys import POOL as DASHBOARD_POOL
from dashboard.settings import Settings as DashboardSettings
from query_api import app as query_app
from query_api.app_keys import POOL as QUERY_POOL
from query_api.settings import Settings as QuerySettings
from tests.fixtures.services import Services, unique_suffix
from tests.integration.control_plane.conftest import ORIGIN, PASSWORD, mailed_code
from tests.integration.postgres_outage import Outage, postgres_stopped

pytestmark = pytest.mark.integration

KINDS = ("login", "query", "projects", "ops")
WARM_CONNECTIONS = 2  # idle connections per pool when the database goes away
# A request while the database is down is refused within this (not after the pool's wait).
REFUSED_WITHIN_SECONDS = 3.0
# One round of requests while the database is down, sent at once: each kind, and as many
# logins as the account may fail from one address (the conftest's limit is 3).
ROUND = (*KINDS, "login", "login")


@dataclass
class Origin:
    url: str
    email: str
    cookie: str
    project: str
    pools: list[AsyncConnectionPool]


@pytest.fixture
async def origin(settings: Settings, services: Services) -> AsyncIterator[Origin]:
    query_settings = QuerySettings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        app_origins=(ORIGIN,),
    )
    dashboard_settings = DashboardSettings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=settings.redis_prefix,
        worker_group=f"g-{unique_suffix()}",
        events_topic=settings.control_topic,
    )
    apps = [
        Mount("control_plane", control_app.MOUNT_PREFIX, control_app.create_app(settings)),
        Mount("query_api", query_app.MOUNT_PREFIX, query_app.create_app(query_settings)),
        Mount(
            "dashboard", dashboard_app.MOUNT_PREFIX, dashboard_app.create_app(dashboard_settings)
        ),
    ]
    server = TestServer(create_app(apps), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    email = f"u{unique_suffix()}@example.com"
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{url}/api/auth/signup", json={"email": email, "password": PASSWORD}
        )
        assert response.status == 202, await response.text()
        code = await mailed_code(Path(settings.mail_dir), email, "ra_confirm_")
        response = await session.post(f"{url}/api/auth/confirm", json={"token": code})
        assert response.status == 200, await response.text()
        cookie = response.cookies["ra_session"].value
        slug = f"pg-{unique_suffix()[:8]}"
        response = await session.post(
            f"{url}/api/projects",
            json={"name": "Restart", "slug": slug},
            cookies={"ra_session": cookie},
            headers={"Origin": ORIGIN},
        )
        assert response.status == 201, await response.text()
    pools = [
        apps[0].app[CONTROL_POOL],
        apps[1].app[QUERY_POOL],
        apps[2].app[DASHBOARD_POOL],
    ]
    try:
        yield Origin(url, email, cookie, slug, pools)
    finally:
        await server.close()


async def warm(pools: list[AsyncConnectionPool]) -> None:
    """Every pool holds ``WARM_CONNECTIONS`` open idle connections, as after some traffic."""
    async with AsyncExitStack() as stack:
        for pool in pools:
            for _ in range(WARM_CONNECTIONS):
                await stack.enter_async_context(pool.connection())


async def call(session: aiohttp.ClientSession, origin: Origin, kind: str) -> tuple[int, Any, Any]:
    """(status, Retry-After, JSON body) of one request of ``kind``."""
    cookies = {"ra_session": origin.cookie}
    if kind == "login":
        credentials = {"email": origin.email, "password": PASSWORD}
        response = await session.post(f"{origin.url}/api/auth/login", json=credentials)
    elif kind == "query":
        query = {
            "type": "metric",
            "projectId": origin.project,
            "event": "$pageview",
            "dateRange": {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z"},
        }
        response = await session.post(f"{origin.url}/api/query", json=query, cookies=cookies)
    elif kind == "projects":
        response = await session.get(f"{origin.url}/api/projects", cookies=cookies)
    else:
        response = await session.get(f"{origin.url}/dashboard/api/ops/projects", cookies=cookies)
    async with response:
        return response.status, response.headers.get("Retry-After"), await response.json()


async def test_the_first_requests_after_a_restart_succeed(origin: Origin, services: Services):
    async with aiohttp.ClientSession() as session:
        for kind in KINDS:
            status, _, body = await call(session, origin, kind)
            assert status == 200, (kind, body)
        await warm(origin.pools)
        async with postgres_stopped(services):
            await asyncio.sleep(1)
        answers = {}
        for kind in KINDS:
            started = time.monotonic()
            status, _, body = await call(session, origin, kind)
            answers[kind] = (status, round(time.monotonic() - started, 2), body)
    print("first answers after the restart (status, seconds):", answers)
    assert {kind: status for kind, (status, _, _) in answers.items()} == dict.fromkeys(
        KINDS, 200
    ), answers


Answer = tuple[str, int, Any, Any, float]  # kind, status, Retry-After, body, seconds


async def timed(session: aiohttp.ClientSession, origin: Origin, kind: str) -> Answer:
    started = time.monotonic()
    status, retry_after, body = await call(session, origin, kind)
    return kind, status, retry_after, body, time.monotonic() - started


async def answers_while_down(
    session: aiohttp.ClientSession, origin: Origin, services: Services
) -> tuple[Outage, list[Answer]]:
    """Two rounds of requests while PostgreSQL is down (warm pools beforehand); another
    outage when another test session started PostgreSQL before this one was over."""
    for _ in range(3):
        await warm(origin.pools)
        answers = []
        async with postgres_stopped(services) as outage:
            for _ in range(2):
                answers += await asyncio.gather(*(timed(session, origin, k) for k in ROUND))
        if outage.held:
            return outage, answers
    pytest.fail("three PostgreSQL outages in a row were ended early by other test sessions")


async def test_while_down_503_with_a_code_then_recovered_never_a_500(
    origin: Origin, services: Services, settings: Settings
):
    # Logins refused for the outage must not count as failures, or the owner is locked
    # out once it is over: the two rounds send more than the limit.
    assert 2 * ROUND.count("login") > settings.login_failures_per_account_address
    after: Counter[tuple[str, int]] = Counter()
    async with aiohttp.ClientSession() as session:
        outage, during = await answers_while_down(session, origin, services)
        recovered: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while len(recovered) < len(KINDS) and time.monotonic() < deadline:
            for kind in (k for k in KINDS if k not in recovered):
                status, _, body = await call(session, origin, kind)
                after[(kind, status)] += 1
                if status == 200:
                    recovered[kind] = round(outage.since_back(), 2)
            await asyncio.sleep(0.1)
    slowest = max(seconds for *_, seconds in during)
    print(
        f"down: {len(during)} answers, {Counter(a[1] for a in during)}, slowest {slowest:.2f} s;"
        f" back: {dict(after)}; seconds from PostgreSQL's return to a 200: {recovered}"
    )
    for kind, status, retry_after, body, seconds in during:
        assert status == 503, (kind, status, body)
        assert body == {"error": "Service unavailable", "code": "DATABASE_UNAVAILABLE"}, kind
        assert retry_after is not None and int(retry_after) >= 1, kind
        assert seconds < REFUSED_WITHIN_SECONDS, (kind, seconds)
    assert set(recovered) == set(KINDS), (recovered, after)
    # The first request of each kind after the return already succeeded (a login refused
    # for the outage did not count towards the account's throttle).
    assert after == {(kind, 200): 1 for kind in KINDS}, after
