"""The dashboard app on its own: pages and assets served, the ops JSON for signed-in users
only, and a Kafka that does not answer reported as down rather than as an error."""

import socket
from datetime import UTC, datetime

import pytest
import redis
from aiohttp.test_utils import TestClient

from contracts.sessions import SESSION_COOKIE, Session, encode_session, new_token, session_key
from dashboard.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services
from tests.integration.dashboard.conftest import client_for

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cookie(services: Services, redis_prefix: str) -> str:
    session_id = new_token()
    with redis.Redis.from_url(services.redis_url) as client:
        session = Session(
            "00000000-0000-0000-0000-000000000001", "ops@example.test", datetime.now(UTC)
        )
        client.set(session_key(redis_prefix, session_id), encode_session(session), ex=600)
    return session_id


async def test_pages_and_the_vendored_chart_library_are_served(client: TestClient) -> None:
    page = await client.get("/dashboard/")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert 'src="static/vendor/uPlot.iife.min.js"' in await page.text()
    assert (await client.get("/dashboard/ops")).status == 200
    licence = await client.get("/dashboard/static/vendor/uPlot.LICENSE")
    assert "MIT License" in await licence.text()
    redirect = await client.get("/dashboard", allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Location"] == "/dashboard/"


async def test_the_ops_json_needs_a_session(client: TestClient, cookie: str) -> None:
    assert (await client.get("/dashboard/api/ops")).status == 401
    stale = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: "nope"})
    assert stale.status == 401
    ops = await (await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})).json()
    assert len(ops["partitions"]) == 12
    assert ops["totals"] == {"logEnd": 0, "committed": 0, "lag": None}
    assert ops["services"] == {
        "kafka": {"up": True, "error": None},
        "postgres": {"up": True, "error": None},
        "redis": {"up": True, "error": None},
    }
    assert ops["deadLettered"] == 0 and ops["overLimitThisMonth"] == 0
    assert ops["lagGrowth"]["alert"] is False


async def test_kafka_down_is_reported_not_raised(
    services: Services, pg_schema: str, redis_prefix: str, cookie: str
) -> None:
    apply_migrations(pg_schema)
    settings = Settings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=f"127.0.0.1:{closed_port()}",
        redis_prefix=redis_prefix,
        probe_timeout_seconds=2.0,
    )
    client = await client_for(settings)
    try:
        response = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})
        ops = await response.json()
    finally:
        await client.close()
    assert response.status == 200
    assert ops["services"]["kafka"]["up"] is False and ops["services"]["postgres"]["up"] is True
    assert ops["partitions"] == [] and ops["deadLettered"] is None
