"""The worker as a process against real Kafka, PostgreSQL and Redis: load with ground truth,
kill -9 at random points, two workers sharing one big project."""

import asyncio
import random

import psycopg
import pytest

from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    applied_offsets,
    applied_total,
    kill_then_finish,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration


async def test_kill_9_at_random_points_leaves_every_projection_exact(
    services, database, make_project, kafka_topic, unique_group, spawn
):
    big, small = await make_project("big"), await make_project("small")
    records = generate([big, small], 100_000, users=5000, days=0.25)
    await produce(services.kafka_bootstrap, kafka_topic, records)
    worker = spawn("w1")
    rng = random.Random(3)
    await kill_then_finish(worker, database, unique_group, len(records), rng, 2.0)
    assert_projections(database, counted(records))


async def test_faust_s_own_fetch_loop_through_a_kill_9_leaves_every_projection_exact(
    services, database, make_project, kafka_topic, unique_group, spawn
):
    """The path a worker takes when faust's fetch loop changed or its source is missing
    (stream_workers/fastdrain.py): records through the agent's stream, acked as events."""
    big, small = await make_project("big"), await make_project("small")
    records = generate([big, small], 20_000, seed=5, users=2000, days=0.1)
    await produce(services.kafka_bootstrap, kafka_topic, records)
    worker = spawn("w1", RA_WORKER_FAST_DRAIN="false")
    await kill_then_finish(worker, database, unique_group, len(records), random.Random(8), 1.0, 1)
    assert "fast drain off" in worker.log.read_text()  # the fallback ran, by choice
    assert_projections(database, counted(records))


async def test_two_workers_share_a_big_project_through_a_rebalance(
    services, database, make_project, kafka_topic, unique_group, spawn
):
    big, small = await make_project("big"), await make_project("small")
    records = generate([big, small], 60_000, seed=11, users=3000, days=0.1)
    first, second = spawn("w1"), spawn("w2")
    first.start()
    second.start()
    try:
        producing = asyncio.create_task(produce_slowly(services, kafka_topic, records))
        await wait_until(
            lambda: min(applied_total(first.port), applied_total(second.port)) > 0,
            60,
            "both workers applying",
            [first.log, second.log],
        )
        by_second = applied_total(second.port)
        second.stop()  # mid-load: its partitions move to the first worker
        await asyncio.sleep(2)
        second.start()
        await producing
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            120,
            "the whole load",
            [first.log, second.log],
        )
        by_first = applied_total(first.port)
    finally:
        first.stop()
        second.stop()
    assert by_first > 0 and by_second > 0
    with psycopg.connect(database) as conn:
        # Keyed by user, the big project is on every partition; each worker owned some.
        row = conn.execute(
            "SELECT count(DISTINCT partition) FROM usage_partitions WHERE project_id = %s", (big,)
        ).fetchone()
    assert row == (12,)
    assert_projections(database, counted(records))


async def produce_slowly(services, topic: str, records) -> None:
    for start in range(0, len(records), 5000):
        await produce(services.kafka_bootstrap, topic, records[start : start + 5000])
        await asyncio.sleep(0.3)
