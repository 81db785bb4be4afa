"""After Redis lost a project-month's usage, the gateway rebuilds it from the database that
counts the project: its shard's (contracts/shards.py), not the control database, where a
sharded project has no usage rows (read as zero, it was admitted a month's limit again)."""

from datetime import UTC, date, datetime

import psycopg
import pytest

from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.conftest import start_gateway
from tests.integration.ingest_gateway.test_ingest import event, post

pytestmark = pytest.mark.integration

LIMIT = 100


async def test_usage_lost_in_redis_is_rebuilt_from_the_projects_shard(
    settings_with, database: str, shard_database: str, project: CreatedProject
) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "UPDATE projects SET shard = 'eu', monthly_event_limit = %s WHERE id = %s",
            (LIMIT, project.id),
        )
    with psycopg.connect(shard_database, autocommit=True) as conn:
        # What the eu shard's workers counted this month: the whole limit.
        conn.execute(
            "INSERT INTO usage_partitions (project_id, month, partition, used, reserved_seen,"
            " last_offset) VALUES (%s, %s, 3, %s, %s, 41)",
            (project.id, date(now.year, now.month, 1), LIMIT, LIMIT),
        )
    # Redis has no usage for the project (a fresh prefix: as after a FLUSHALL).
    gateway = await start_gateway(
        settings_with(shard_databases={"default": database, "eu": shard_database})
    )
    try:
        status, body = await post(gateway, event(), project.public_key)
    finally:
        await gateway.close()
    assert status == 429, body
    assert (body["code"], body["used"], body["remaining"]) == ("EVENT_LIMIT_EXCEEDED", LIMIT, 0)
