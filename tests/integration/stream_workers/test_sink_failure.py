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
