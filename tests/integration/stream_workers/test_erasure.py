"""Person deletion (issue 17) against real PostgreSQL, Kafka and a worker process: deleting
persons while their project's events are being applied leaves every other person exact in
every projection, the deleted ones nowhere, and their later events never counted; billing
usage keeps what was counted before the deletion."""

import asyncio
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from control_plane.deletions import find_deletion, request_deletion
from stream_workers.erasure import Eraser
from stream_workers.replay import replay, schema_url
from stream_workers.settings import Settings
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    applied_offsets,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration

GONE = ("u5", "u9", "u77")


def used(database: str, project: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(used), 0) FROM usage_months WHERE project_id = %s", (project,)
        ).fetchone()
    return int(row[0]) if row else 0


def retention_runs(database: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM retention_runs WHERE shard = 'default' AND error IS NULL"
        ).fetchone()
    return int(row[0]) if row else 0


async def deletion_of(database: str, project: str) -> str:
    """A deletion of the ``GONE`` persons, requested by no user (as an operator's script)."""
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        return (await request_deletion(conn, project, list(GONE), None)).id


async def test_a_deletion_during_a_load_leaves_everyone_else_exact(
    open_sink, make_project, database
):
    project, other = await make_project("pumpkin"), await make_project("quince")
    records = generate([project, other], 24_000, seed=4, users=120, days=2)
    raws = as_raw(records)
    sink = await open_sink()

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(database, autocommit=True)

    eraser = Eraser("default", connect, connect, lease_seconds=60)
    started = asyncio.Event()

    async def load() -> None:
        for n, start in enumerate(range(0, len(raws), 500)):
            await sink.apply(raws[start : start + 500])
            if n == 16:
                started.set()  # a third applied: the deletion starts now, the load goes on

    async def delete() -> None:
        await started.wait()
        await deletion_of(database, project)
        assert await eraser.run_pending() == 1

    try:
        await asyncio.gather(load(), delete())
    finally:
        await eraser.close()
    truth = counted(records)
    mine = [r for r in truth if r.project_id == project]
    kept = [r for r in truth if not (r.project_id == project and r.distinct_id in GONE)]
    assert len(kept) < len(truth)
    assert_projections(database, kept, usage=False)
    # Billing keeps what was counted before the tombstone; nothing after it.
    assert len([r for r in kept if r.project_id == project]) <= used(database, project) < len(mine)
    assert used(database, other) == len([r for r in truth if r.project_id == other])

    # Retried by an SDK, or still in flight: the deleted persons stay deleted.
    late = [r for r in records if r.project_id == project and r.distinct_id in GONE]
    again = await sink.apply(as_raw([*records, *late])[len(records) :])  # the log goes on
    assert (again.applied, again.erased) == (0, len(late))
    assert_projections(database, kept, usage=False)


async def test_the_worker_carries_a_requested_deletion_out_during_a_load(
    services, database, make_project, kafka_topic, unique_group, spawn, worker_env
):
    project = await make_project("pumpkin")
    first = generate([project], 20_000, seed=6, users=150, days=1)
    # Its own insertIds (generate numbers them from 0): one id shared by two persons'
    # events would be counted once live but twice once one of them is deleted.
    second = [
        replace(r, insert_id=f"second-{r.insert_id}") if r.insert_id else r
        for r in generate([project], 10_000, seed=7, users=150, days=1)
    ]
    await produce(services.kafka_bootstrap, kafka_topic, first)
    worker_env["RA_WORKER_RETENTION_SECONDS"] = "1"  # its other timer (issue 17's retention)
    worker = spawn("w1")
    worker.start()
    try:
        await wait_until(
            lambda: applied_offsets(database, unique_group) > 0, 60, "progress", [worker.log]
        )
        deletion = await deletion_of(database, project)
        await produce(services.kafka_bootstrap, kafka_topic, second)  # meanwhile
        total = len(first) + len(second)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == total, 120, "the load", [worker.log]
        )

        async def status() -> str:
            async with await psycopg.AsyncConnection.connect(database) as conn:
                found = await find_deletion(conn, project, deletion)
            assert found is not None
            return found.status.value

        deadline = asyncio.get_running_loop().time() + 60
        while await status() != "done":
            assert asyncio.get_running_loop().time() < deadline, "deletion not done in 60 s"
            await asyncio.sleep(0.5)
        # The same workers run raw retention on their timer, each run recorded.
        await wait_until(lambda: retention_runs(database) > 0, 30, "a retention run", [worker.log])
    finally:
        worker.stop()
    kept = [r for r in counted([*first, *second]) if r.distinct_id not in GONE]
    assert_projections(database, kept, usage=False)

    # A replay of the log (which still holds their events) never brings them back.
    settings = Settings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        control_topic=worker_env["RA_CONTROL_TOPIC"],
        group_id=unique_group,
    )
    schema = f"{unique_group.replace('-', '_')}_replay"
    try:
        await replay(settings, schema)
        assert_projections(schema_url(database, schema), kept, usage=False)
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # a generated name
