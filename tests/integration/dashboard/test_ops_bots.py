"""The ops view lists each project's crawler events this month (issue 18), as the workers
count them in ``bot_events``; last month's and other months' are not this month's."""

from datetime import UTC, date, datetime

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from contracts.sessions import SESSION_COOKIE
from tests.fixtures.services import Services
from tests.integration.dashboard.conftest import session_of
from tests.support.projects import new_project

pytestmark = pytest.mark.integration


@pytest.fixture
def cookie(services: Services, pg_schema: str, redis_prefix: str) -> str:
    return session_of(services, pg_schema, redis_prefix, operator=True)


async def ops_of(client: TestClient, cookie: str) -> dict:  # type: ignore[type-arg]
    response = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_none_yet(client: TestClient, cookie: str) -> None:
    assert (await ops_of(client, cookie))["botEventsThisMonth"] == []


async def test_each_projects_crawler_events_this_month(
    client: TestClient, cookie: str, pg_schema: str
) -> None:
    # Written before the first look: the view keeps a sample for a few seconds.
    quiet, busy = await new_project(pg_schema, "quiet"), await new_project(pg_schema, "busy")
    now = datetime.now(UTC)
    month = date(now.year, now.month, 1)
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO bot_events (project_id, month, events) VALUES"
            " (%s, %s, 3), (%s, %s, 40), (%s, '2020-01-01', 99)",
            (quiet.id, month, busy.id, month, quiet.id),
        )
    assert (await ops_of(client, cookie))["botEventsThisMonth"] == [
        {"project": busy.id, "slug": "busy", "events": 40},
        {"project": quiet.id, "slug": "quiet", "events": 3},
    ]
