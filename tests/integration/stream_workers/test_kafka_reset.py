"""A Kafka reset under offsets PostgreSQL kept (issue 16): the events topic is deleted and
created again with its name, as when Kafka's data is wiped or its cluster replaced, while
``consumer_offsets`` still holds the old topic's positions. The new records' offsets lie
below the stored ones; the worker used to skip them as "already applied", silently, with
lag 0. They must never be skipped: the partitions are reported inconsistent (``/metrics``,
``lag``) and held, and after the documented recovery the new events are counted."""

import asyncio
import contextlib
import os
import sys
import urllib.request
from dataclasses import dataclass, replace

import orjson
import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from prometheus_client.parser import text_string_to_metric_families

from contracts.events import EventRecord
from stream_workers.replay import schema_url
from stream_workers.topic_identity import TopicReader
from tests.fixtures.services import TEST_TOPIC_PARTITIONS, wait_for_leaders
from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    applied_offsets,
    json_lines,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration


async def recreate_topic(bootstrap: str, topic: str) -> None:
    """Delete ``topic`` and create it again under the same name (a new topic id), with
    12 partitions. A running worker's consumer asks for the topic's metadata meanwhile and
    the broker may create it itself first (auto.create.topics.enable, 1 partition): then
    its partitions are added."""
    reader = TopicReader(bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await admin.start()
    try:
        before = await reader.read(topic)
        assert before is not None
        await admin.delete_topics([topic])
        for _ in range(300):
            now = await reader.read(topic)
            if now is None:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(topic, TEST_TOPIC_PARTITIONS, 1)])
            elif now.topic_id == before.topic_id:
                pass  # still being deleted
            elif len(now.ends) < TEST_TOPIC_PARTITIONS:
                await admin.create_partitions({topic: NewPartitions(TEST_TOPIC_PARTITIONS)})
            else:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{topic} was not created again within 30 s")
        await wait_for_leaders(admin, topic, TEST_TOPIC_PARTITIONS)
    finally:
        await admin.close()
        await reader.stop()


def second_load(project: str) -> list[EventRecord]:
    """New events (their own insertIds) for the recreated topic."""
    return [
        replace(r, insert_id=None if r.insert_id is None else f"second-{r.insert_id}")
        for r in generate([project], 300, seed=2, days=0.1)
    ]


def inconsistent_partitions(port: int, topic: str) -> set[int]:
    """Partitions ``worker_partition_inconsistent`` reports (value 1) on a worker."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return set()
    return {
        int(sample.labels["partition"])
        for family in text_string_to_metric_families(text)
        if family.name == "worker_partition_inconsistent"
        for sample in family.samples
        if sample.labels.get("topic") == topic and sample.value == 1
    }


def stored_partitions(conninfo: str, group: str) -> dict[int, int]:
    """The stored next offset of every partition that applied something."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT partition, next_offset FROM consumer_offsets"
            " WHERE consumer = %s AND next_offset > 0",
            (group,),
        ).fetchall()
    return {int(p): int(o) for p, o in rows}


def events_stored(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


async def command(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``python -m stream_workers ARGS`` with the worker's environment: exit code, output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stream_workers",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def wait_until_no_members(bootstrap: str, group: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(150):
            [described] = await admin.describe_consumer_groups([group])
            if not any(g["members"] for g in described.to_object()["groups"]):
                return
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    raise AssertionError(f"group {group} still has members after 30 s")


async def lag_rows(env: dict[str, str], topic: str) -> dict[int, dict[str, object]]:
    code, out = await command(env, "lag", "--json")
    rows = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {int(r["partition"]): r for r in rows if r["topic"] == topic} | {-1: {"exit": code}}


@dataclass(frozen=True)
class Reset:
    """What a worker saw: a first load applied, then the topic recreated under it and a
    second load produced to the new topic."""

    first: list[EventRecord]
    second: list[EventRecord]
    stored: dict[int, int]  # the first load's stored next offsets


async def reset_under_a_worker(
    services, database: str, project: str, topic: str, group: str, worker
) -> Reset:
    first = generate([project], 600, days=0.1)
    await produce(services.kafka_bootstrap, topic, first)
    worker.start()
    try:
        await wait_until(
            lambda: applied_offsets(database, group) == len(first),
            60,
            "the first load applied",
            [worker.log],
        )
        stored = stored_partitions(database, group)
        assert stored, "nothing stored"

        await recreate_topic(services.kafka_bootstrap, topic)
        second = second_load(project)
        await produce(services.kafka_bootstrap, topic, second)

        # Never skipped silently: every partition that had stored offsets is reported
        # inconsistent while the worker runs ...
        await wait_until(
            lambda: inconsistent_partitions(worker.port, topic) == set(stored),
            60,
            f"partitions {sorted(stored)} reported inconsistent (the new records were"
            f" skipped silently instead: {events_stored(database)} events stored)",
            [worker.log],
        )
        await asyncio.sleep(2)  # time enough to (wrongly) skip or apply what it fetched
        # ... and held: nothing applied from the new topic, no stored offset moved.
        assert events_stored(database) == len(counted(first))
        assert stored_partitions(database, group) == stored
    finally:
        worker.stop()
    assert any(
        line.get("level") == "error" and "inconsistent" in line.get("event", "")
        for line in json_lines(worker.log.read_text())
    ), "no error logged for the inconsistent partitions"
    return Reset(first, second, stored)


async def test_a_recreated_topic_is_held_and_reported_then_counted_after_the_reset(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    project = await make_project()
    worker = spawn("w1")
    reset = await reset_under_a_worker(
        services, database, project, kafka_topic, unique_group, worker
    )
    first, second, stored = reset.first, reset.second, reset.stored

    # The lag command shows it too, and says so in its exit status.
    rows = await lag_rows(worker_env, kafka_topic)
    assert rows.pop(-1) == {"exit": 2}
    assert {p for p, r in rows.items() if r["inconsistency"]} == set(stored)
    assert all(r["stored"] == stored[p] for p, r in rows.items() if p in stored)

    # The recovery: stop the workers, reset the stored offsets deliberately, start them.
    # A stopped worker with a static membership id stays a member for its session timeout.
    code, out = await command(worker_env, "offsets", "reset", "--topic", kafka_topic, "--yes")
    assert code != 0 and "stop its workers first" in out
    await wait_until_no_members(services.kafka_bootstrap, unique_group)
    code, out = await command(worker_env, "offsets", "reset", "--topic", kafka_topic)
    assert code != 0 and "--yes" in out
    assert stored_partitions(database, unique_group) == stored  # refused: nothing changed
    code, out = await command(worker_env, "offsets", "reset", "--topic", kafka_topic, "--yes")
    assert code == 0, out

    worker.start()
    try:
        await wait_until(
            lambda: events_stored(database) == len(counted(first)) + len(counted(second)),
            60,
            "the new events counted after the reset",
            [worker.log],
        )
        assert inconsistent_partitions(worker.port, kafka_topic) == set()
    finally:
        worker.stop()
    assert_projections(database, counted(first) + counted(second))
    rows = await lag_rows(worker_env, kafka_topic)
    assert rows.pop(-1) == {"exit": 0}
    assert not any(r["inconsistency"] for r in rows.values())


@pytest.mark.long  # the hold is the test above's; the replay is test_replay's (CI < 30 min)
async def test_after_a_reset_a_replay_into_a_fresh_schema_holds_the_new_topic(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    """The runbook's other recovery: replay the log into a fresh schema and point the
    workers at it; they carry on there, nothing held."""
    project = await make_project()
    reset = await reset_under_a_worker(
        services, database, project, kafka_topic, unique_group, spawn("w1")
    )
    schema = f"{unique_group.replace('-', '_')}_replay"
    rebuilt = schema_url(database, schema)
    try:
        code, out = await command(worker_env, "replay", "--schema", schema)
        assert code == 0, out
        assert events_stored(rebuilt) == len(counted(reset.second))

        await wait_until_no_members(services.kafka_bootstrap, unique_group)
        worker = spawn("w2")
        worker.env["RA_DATABASE_URL"] = rebuilt
        third = [
            replace(r, insert_id=None if r.insert_id is None else f"third-{r.insert_id}")
            for r in generate([project], 100, seed=3, days=0.1)
        ]
        worker.start()
        try:
            await produce(services.kafka_bootstrap, kafka_topic, third)
            await wait_until(
                lambda: events_stored(rebuilt) == len(counted(reset.second + third)),
                60,
                "the worker carrying on in the rebuilt schema",
                [worker.log],
            )
            assert inconsistent_partitions(worker.port, kafka_topic) == set()
        finally:
            worker.stop()
        assert_projections(rebuilt, counted(reset.second + third))
        rows = await lag_rows({**worker_env, "RA_DATABASE_URL": rebuilt}, kafka_topic)
        assert rows.pop(-1) == {"exit": 0}
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # a generated name
