"""Case 8 of issue 14: one project's wide funnels cannot slow another project's queries.

Project alpha (``NOISY``) holds enough raw events that one funnel over them takes a good
part of a second; 40 clients ask for it at once, again and again, honouring Retry-After.
Meanwhile beta (``QUIET``) asks a simple metric a few hundred times: it must stay fast,
because alpha may run only ``project_concurrency`` queries at once and the rest of the
database pool stays free for everyone else. Before the per-project limits, alpha's
funnels held every pool connection and beta's query waited seconds behind them.
"""

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from query_api.app import create_standalone_app
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import World, fill

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, tzinfo=UTC)
NOISY_EVENTS = 300_000
NOISY_CLIENTS = 40

_LOAD = """
INSERT INTO events (id, project_id, event, ts, received_at, distinct_id, session_id, properties)
SELECT gen_random_uuid(), %(project)s,
       (ARRAY['$pageview', '$pageview', 'signup', 'purchase'])[1 + g %% 4],
       %(start)s::timestamptz + interval '30 days' * (g::float8 / %(events)s), now(),
       'u' || (hashint8(g) & 65535), 's' || g %% 5000, '{}'::jsonb
FROM generate_series(1, %(events)s) g
"""


def window(start: datetime, days: int) -> dict[str, str]:
    end = start + timedelta(days=days) - timedelta(milliseconds=1)
    return {"start": start.isoformat(), "end": end.isoformat()}


WIDE_FUNNEL = {
    "type": "funnel",
    "projectId": "alpha",
    "dateRange": window(START, 30),
    "steps": [{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}],
    "conversionWindow": {"value": 7, "unit": "day"},
}
SIMPLE = {
    "type": "metric",
    "projectId": "beta",
    "event": "$pageview",
    "dateRange": window(START, 3),
}


@pytest.fixture(scope="module")
def tenants(module_world: World, services: Any) -> World:
    """alpha: NOISY_EVENTS raw events over 30 days; beta: a few hundred events, rolled up.
    The user is a member of both."""
    with psycopg.connect(module_world.database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'member')",
            (module_world.other, module_world.user),
        )
        conn.execute(
            _LOAD, {"project": module_world.project, "start": START, "events": NOISY_EVENTS}
        )
        conn.execute("VACUUM ANALYZE events")
    quiet = truth.generate(module_world.other, START, 3, 400, seed=8)
    asyncio.run(fill(module_world, quiet, services))
    return module_world


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


QUIET_QUERIES = 300
# The benchmark (benchmarks/query_isolation.py) reports the p99 against its 200 ms target;
# the test allows more for a busy shared box, and still fails by seconds without limits.
QUIET_P99_SECONDS = 0.5


async def test_a_quiet_project_stays_fast_while_another_saturates_its_share(tenants, client):
    cookies = {"ra_session": tenants.cookie}
    started = time.perf_counter()
    response = await client.post("/api/query", json=WIDE_FUNNEL, cookies=cookies)
    assert response.status == 200, await response.text()
    one_funnel = time.perf_counter() - started
    noisy: Counter[tuple[int, str | None]] = Counter()
    stop = asyncio.Event()

    async def flood() -> None:
        while not stop.is_set():
            response = await client.post("/api/query", json=WIDE_FUNNEL, cookies=cookies)
            body = await response.json()
            noisy[response.status, body.get("code")] += 1
            if response.status in (429, 503):
                assert int(response.headers["Retry-After"]) >= 1
                with contextlib.suppress(TimeoutError):  # a client honouring Retry-After
                    await asyncio.wait_for(stop.wait(), int(response.headers["Retry-After"]))

    floods = [asyncio.create_task(flood()) for _ in range(NOISY_CLIENTS)]
    samples: list[float] = []
    try:
        await asyncio.sleep(max(1.0, one_funnel))  # every flood has asked once
        for _ in range(QUIET_QUERIES):
            began = time.perf_counter()
            response = await client.post("/api/query", json=SIMPLE, cookies=cookies)
            assert response.status == 200, await response.text()
            samples.append(time.perf_counter() - began)
            assert samples[-1] < 5, f"the quiet project's query took {samples[-1]:.1f} s"
    finally:
        stop.set()
        await asyncio.gather(*floods)
    print(f"quiet p99 {p99(samples) * 1000:.0f} ms, one funnel {one_funnel:.2f} s, {noisy}")
    assert p99(samples) < QUIET_P99_SECONDS, (p99(samples), one_funnel, noisy)
    assert noisy[200, None] > 0 and noisy[429, "QUERY_CONCURRENCY_LIMIT"] > 0, noisy
    assert all(status < 500 for status, _ in noisy), noisy
    metrics = await (await client.get("/api/query/metrics")).text()
    assert (
        f'query_refusals_total{{project="{tenants.project}",reason="concurrency_limit"}}' in metrics
    )


async def test_a_query_past_the_statement_timeout_is_a_503_and_the_next_one_answers(tenants):
    settings = replace(tenants.settings(), statement_timeout_ms=50)
    client = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        cookies = {"ra_session": tenants.cookie}
        response = await client.post("/api/query", json=WIDE_FUNNEL, cookies=cookies)
        assert response.status == 503
        assert await response.json() == {
            "error": "Query took too long; narrow the date range",
            "code": "QUERY_TIMEOUT",
        }
        assert int(response.headers["Retry-After"]) >= 1
        response = await client.post("/api/query", json=SIMPLE, cookies=cookies)
        assert response.status == 200, await response.text()
        metrics = await (await client.get("/api/query/metrics")).text()
        assert (
            f'query_refusals_total{{project="{tenants.project}",reason="timeout"}} 1.0' in metrics
        )
    finally:
        await client.close()


async def test_a_whole_dashboard_asked_at_once_is_queued_not_refused(tenants, client):
    cookies = {"ra_session": tenants.cookie}
    charts = [client.post("/api/query", json=SIMPLE, cookies=cookies) for _ in range(24)]
    responses = await asyncio.gather(*charts)
    assert [r.status for r in responses] == [200] * 24
