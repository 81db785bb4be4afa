"""The worker as a process against real Kafka, PostgreSQL and Redis: load with ground truth,
kill -9 at random points, two workers sharing one big project."""

import asyncio
import random
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    WorkerProcess,
    applied_offsets,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def worker_env(services, database, kafka_topic, unique_group, redis_prefix, tmp_path):
    env = {
        **services.as_env(),
        "RA_DATABASE_URL": database,
        "RA_EVENTS_TOPIC": kafka_topic,
        "RA_CONTROL_TOPIC": f"{kafka_topic}-control",
        "RA_WORKER_DEAD_LETTER_TOPIC": f"{kafka_topic}-dlq",
        "RA_WORKER_GROUP": unique_group,
        "RA_REDIS_PREFIX": redis_prefix,
        "RA_WORKER_DATA_DIR": str(tmp_path / "faust"),
        "RA_WORKER_BATCH_SECONDS": "0.3",
    }
    yield env
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        mine = [
            t for t in await admin.list_topics() if t.startswith((unique_group, kafka_topic + "-"))
        ]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def spawn(env, tmp_path: Path, name: str, services) -> WorkerProcess:
    return WorkerProcess(
        {**env, "RA_WORKER_INSTANCE_ID": name}, tmp_path / f"{name}.log", services.repo_root
    )


async def test_kill_9_at_random_points_leaves_every_projection_exact(
    services, database, make_project, kafka_topic, unique_group, worker_env, tmp_path
):
    big, small = await make_project("big"), await make_project("small")
    records = generate([big, small], 100_000, users=5000, days=0.25)
    await produce(services.kafka_bootstrap, kafka_topic, records)
    worker = spawn(worker_env, tmp_path, "w1", services)
    rng = random.Random(3)
    try:
        for _ in range(3):
            before = applied_offsets(database, unique_group)
            worker.start()
            await wait_until(
                lambda: applied_offsets(database, unique_group) > before,
                60,
                "progress",
                [worker.log],
            )
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            worker.kill()
        assert applied_offsets(database, unique_group) < len(records), "killed too late"
        worker.start()
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            120,
            "the whole load",
            [worker.log],
        )
    finally:
        worker.stop()
    assert_projections(database, counted(records))
