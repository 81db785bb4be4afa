"""PostgreSQL stopped and started again under a running worker: the process keeps running,
its periodic tasks (usage resync, lag refresh) keep running, and it applies what was
produced during and after the outage, every projection exact."""

import asyncio
import time
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from contracts.usage import usage_key
from tests.integration.postgres_outage import postgres_stopped
from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import applied_offsets, produce, wait_until

pytestmark = pytest.mark.integration

# The timers fire several times while the database is away (the resync used to raise on
# the lost connection and take the whole worker down with it).
TIMER_SECONDS = "0.5"
OUTAGE_SECONDS = 3.0


async def test_a_worker_survives_a_postgres_restart_and_applies_what_came_meanwhile(
    services, database, make_project, kafka_topic, unique_group, redis_prefix, spawn
):
    project = await make_project("pg-restart")
    records = generate([project], 3000, seed=21, users=300, days=0.1)
    before, during, after = records[:1000], records[1000:2000], records[2000:]
    worker = spawn("w1")
    worker.env["RA_WORKER_USAGE_RESYNC_SECONDS"] = TIMER_SECONDS
    worker.env["RA_WORKER_LAG_REFRESH_SECONDS"] = TIMER_SECONDS
    worker.start()
    redis = Redis.from_url(services.redis_url)
    try:
        await produce(services.kafka_bootstrap, kafka_topic, before)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(before),
            60,
            "the first part",
            [worker.log],
        )
        for _ in range(3):  # another outage if another test session cut this one short
            async with postgres_stopped(services) as outage:
                if during:
                    await produce(services.kafka_bootstrap, kafka_topic, during)
                    during = []
                await asyncio.sleep(OUTAGE_SECONDS)
                assert worker.process is not None and worker.process.poll() is None, (
                    "the worker exited while PostgreSQL was down"
                )
            if outage.held:
                break
        assert outage.held, "three PostgreSQL outages in a row were ended early by others"
        await produce(services.kafka_bootstrap, kafka_topic, after)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            60,
            "everything produced during and after the outage",
            [worker.log],
        )
        recovered = outage.since_back()
        assert worker.process.poll() is None, "the worker exited after PostgreSQL came back"

        # The usage resync still runs: a usage state Redis lost is written again.
        key = usage_key(redis_prefix, project, f"{datetime.now(UTC):%Y-%m}")
        assert await redis.exists(key)
        await redis.delete(key)
        deadline = time.monotonic() + 10
        while not await redis.exists(key):
            assert time.monotonic() < deadline, "the usage resync stopped after the restart"
            await asyncio.sleep(0.2)
        assert worker.process.poll() is None
    finally:
        await redis.aclose()
        worker.stop()
    print(f"worker: all {len(records)} records applied {recovered:.1f} s after PostgreSQL")
    assert_projections(database, counted(records))
