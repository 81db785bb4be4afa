"""The ops view shows each shard's last raw-retention run (issue 17), as the workers record
it in the control database's ``retention_runs``; that read fails as the rest of the ops
view's PostgreSQL read does."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from contracts.sessions import SESSION_COOKIE
from tests.fixtures.services import Services
from tests.integration.dashboard.conftest import session_of

pytestmark = pytest.mark.integration
T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def cookie(services: Services, pg_schema: str, redis_prefix: str) -> str:
    return session_of(services, pg_schema, redis_prefix, operator=True)


def record_run(
    database: str,
    shard: str,
    finished: datetime,
    partitions: list[str],
    stray_rows: int = 0,
    error: str | None = None,
) -> None:
    """A run as the workers record it (one row per run per shard)."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO retention_runs (shard, started_at, finished_at, partitions,"
            " stray_rows, error) VALUES (%s, %s, %s, %s, %s, %s)",
            (shard, finished - timedelta(seconds=2), finished, partitions, stray_rows, error),
        )


async def ops_of(client: TestClient, cookie: str) -> dict:  # type: ignore[type-arg]
    response = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_no_run_yet_shows_no_shard(client: TestClient, cookie: str) -> None:
    assert (await ops_of(client, cookie))["retention"] == []


async def test_the_latest_run_of_each_shard_is_shown(
    client: TestClient, cookie: str, pg_schema: str
) -> None:
    # Recorded out of order: the one that finished last wins, not the one written last.
    record_run(pg_schema, "default", T0 + timedelta(days=1), [], error="lock_timeout")
    record_run(pg_schema, "default", T0, ["events_2025_03_p1", "events_2025_03_p2"], 17)
    record_run(pg_schema, "eu", T0 - timedelta(days=1), ["events_2025_02"])
    record_run(pg_schema, "eu", T0 - timedelta(days=2), ["events_2025_01"], error="x")
    record_run(pg_schema, "apac", T0 - timedelta(days=3), [])

    retention = (await ops_of(client, cookie))["retention"]
    finished = T0 + timedelta(days=1)
    assert retention == [
        {
            "shard": "default",
            "startedAt": (finished - timedelta(seconds=2)).isoformat(),
            "finishedAt": finished.isoformat(),
            "partitionsDropped": 0,
            "strayRows": 0,
            "error": "lock_timeout",
        },
        {
            "shard": "apac",
            "startedAt": (T0 - timedelta(days=3, seconds=2)).isoformat(),
            "finishedAt": (T0 - timedelta(days=3)).isoformat(),
            "partitionsDropped": 0,
            "strayRows": 0,
            "error": None,
        },
        {
            "shard": "eu",
            "startedAt": (T0 - timedelta(days=1, seconds=2)).isoformat(),
            "finishedAt": (T0 - timedelta(days=1)).isoformat(),
            "partitionsDropped": 1,
            "strayRows": 0,
            "error": None,
        },
    ]


async def test_the_run_after_a_failed_one_replaces_it(
    client: TestClient, cookie: str, pg_schema: str
) -> None:
    record_run(pg_schema, "default", T0, [], error="lock_timeout")
    record_run(pg_schema, "default", T0 + timedelta(hours=1), ["events_2025_03_p1"], 3)
    [run] = (await ops_of(client, cookie))["retention"]
    assert (run["partitionsDropped"], run["strayRows"], run["error"]) == (1, 3, None)


async def test_a_failed_read_is_the_postgres_reads_failure(
    client: TestClient, cookie: str, pg_schema: str
) -> None:
    """The table unreadable (here: gone): PostgreSQL shows down with why, the retention
    and the overage are unknown (null, not an empty list), and the rest still answers."""
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute("DROP TABLE retention_runs")
    ops = await ops_of(client, cookie)
    assert ops["retention"] is None and ops["overageThisMonth"] is None
    assert ops["services"]["postgres"]["up"] is False
    assert "retention_runs" in ops["services"]["postgres"]["error"]
    assert ops["services"]["kafka"]["up"] is True and ops["services"]["redis"]["up"] is True
