"""Scale-out of the stream workers: three processes in one consumer group share the events
topic's partitions under a steady load; one is killed with SIGKILL, one added, another
killed, and afterwards every projection equals the ground truth and the big project's
events were applied by every process that ran (issue 16).

Which process applied what comes from each process's own ``/metrics``: the small projects
have ``len(smalls)`` events in all, so a process whose ``worker_events_applied_total``
exceeds that applied events of the big project.
"""

import asyncio
import random
from collections.abc import Sequence

import psycopg
import pytest

from contracts.events import EventRecord
from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    WorkerProcess,
    applied_offsets,
    applied_total,
    produce,
    wait_until,
)

# Long (78 s in CI): make faults runs it; CI keeps the kill -9 and two-worker rebalance
# tests of test_worker.py and the two-shard crash test.
pytestmark = [pytest.mark.integration, pytest.mark.long]

PARTITIONS = 12
CHUNK = 1000  # records a step of the steady load
PAUSE = 0.5  # seconds between steps, until the kills and the addition are done
STEP_TIMEOUT = 90  # seconds: a rebalance after a SIGKILL waits out the 10 s session timeout


def partition_offsets(conninfo: str, group: str) -> dict[int, int]:
    """Each partition's next offset as the group's workers committed it with their writes."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = %s", (group,)
        ).fetchall()
    return {partition: offset for partition, offset in rows}


async def steady_load(
    bootstrap: str, topic: str, records: Sequence[EventRecord], hurry: asyncio.Event
) -> None:
    """``CHUNK`` records every ``PAUSE`` seconds until ``hurry`` is set, then the rest at
    once: the group keeps receiving records on every partition while it changes."""
    for start in range(0, len(records), CHUNK):
        await produce(bootstrap, topic, records[start : start + CHUNK])
        if not hurry.is_set():
            await asyncio.sleep(PAUSE)
    assert hurry.is_set(), "the load ran out before the group's changes were done"


async def partitions_moved(conninfo: str, group: str, logs: Sequence[WorkerProcess]) -> None:
    """Wait until every partition has advanced past where it stood: the killed worker's
    partitions only do once the group gave them to a live one."""
    before = partition_offsets(conninfo, group)

    def advanced() -> bool:
        now = partition_offsets(conninfo, group)
        return len(now) == PARTITIONS and all(now[p] > before.get(p, -1) for p in now)

    await wait_until(advanced, STEP_TIMEOUT, "every partition to advance", [w.log for w in logs])


async def test_three_workers_through_kill_add_kill_apply_every_event_exactly_once(
    services, database, make_project, kafka_topic, unique_group, spawn
):
    big, small_a, small_b = (
        await make_project("big"),
        await make_project("small-a"),
        await make_project("small-b"),
    )
    # One big project over many users (its keys land on every partition), two small ones.
    smalls = generate([small_a, small_b], 1200, seed=17, users=60, days=0.2)
    records = generate([big], 120_000, seed=16, users=5000, days=0.2) + smalls
    random.Random(16).shuffle(records)
    workers = {name: spawn(name) for name in ("w1", "w2", "w3", "w4")}
    running = [workers["w1"], workers["w2"], workers["w3"]]
    by_process: dict[str, float] = {}

    def applied_big(*names: str) -> bool:
        return all(applied_total(workers[n].port) > len(smalls) for n in names)

    def kill(name: str) -> None:
        by_process[name] = applied_total(workers[name].port)  # a lower bound: it may apply more
        workers[name].kill()
        running.remove(workers[name])

    hurry = asyncio.Event()
    for worker in running:
        worker.start()
    producing = asyncio.create_task(
        steady_load(services.kafka_bootstrap, kafka_topic, records, hurry)
    )
    try:
        await wait_until(
            lambda: applied_big("w1", "w2", "w3"),
            STEP_TIMEOUT,
            "three workers each applying the big project",
            [w.log for w in running],
        )
        kill("w2")
        await partitions_moved(database, unique_group, running)
        workers["w4"].start()
        running.append(workers["w4"])
        await wait_until(
            lambda: applied_big("w4"),
            STEP_TIMEOUT,
            "the added worker applying",
            [w.log for w in running],
        )
        kill("w1")
        await partitions_moved(database, unique_group, running)
        hurry.set()
        await producing
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            120,
            "the whole load",
            [w.log for w in running],
        )
        by_process.update({name: applied_total(workers[name].port) for name in ("w3", "w4")})
    finally:
        hurry.set()
        for worker in workers.values():
            worker.stop()
        await asyncio.gather(producing, return_exceptions=True)
    print("events applied per process (killed ones: before the kill):", by_process)
    assert all(count > len(smalls) for count in by_process.values()), by_process
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT partition) FROM usage_partitions WHERE project_id = %s", (big,)
        ).fetchone()
    assert row == (PARTITIONS,)
    assert_projections(database, counted(records))
