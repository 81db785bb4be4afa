"""A batch the sink cannot apply is retried, never acknowledged: nothing is lost.

Events are acknowledged only after their batch's transaction commits; a database error
must neither skip a batch nor let a stopping worker commit past it."""

import asyncio

import psycopg
import pytest

from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import applied_offsets, produce, wait_until

pytestmark = pytest.mark.integration


def rename(conninfo: str, old: str, new: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")  # fixed names, not input


async def test_sink_errors_are_retried_and_a_stop_mid_failure_loses_nothing(
    services, database, make_project, kafka_topic, unique_group, spawn
):
    project = await make_project("shop")
    records = generate([project], 6000, seed=5, users=300, days=0.05)
    first, rest = records[:2000], records[2000:]
    worker = spawn("w1")
    worker.start()
    try:
        await produce(services.kafka_bootstrap, kafka_topic, first)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(first),
            60,
            "the first part",
            [worker.log],
        )
        rename(database, "rollups", "rollups_away")  # every batch now fails
        await produce(services.kafka_bootstrap, kafka_topic, rest)
        await asyncio.sleep(3)
        assert applied_offsets(database, unique_group) == len(first)
        worker.stop()  # stopping while the batch keeps failing must not acknowledge it
        rename(database, "rollups_away", "rollups")
        worker.start()
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            60,
            "the rest after the database came back",
            [worker.log],
        )
    finally:
        worker.stop()
    assert "retrying" in worker.log.read_text()
    assert_projections(database, counted(records))


async def test_a_lost_database_connection_is_opened_again(
    services, database, make_project, kafka_topic, unique_group, spawn, worker_env
):
    # Connection lost is an infrastructure error: retried, on a new connection — the old
    # one stays closed, so retrying on it would hold every project back for good.
    worker_env["RA_DATABASE_URL"] = f"{database}&application_name={unique_group}"
    project = await make_project("shop")
    records = generate([project], 3000, seed=6, users=200, days=0.05)
    first, rest = records[:1000], records[1000:]
    worker = spawn("w1")
    worker.start()
    try:
        await produce(services.kafka_bootstrap, kafka_topic, first)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(first),
            60,
            "the first part",
            [worker.log],
        )
        with psycopg.connect(database, autocommit=True) as conn:
            ended = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (unique_group,),
            ).fetchone()
        assert ended is not None and ended[0] >= 1
        await produce(services.kafka_bootstrap, kafka_topic, rest)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            60,
            "the rest on a new connection",
            [worker.log],
        )
    finally:
        worker.stop()
    assert_projections(database, counted(records))
