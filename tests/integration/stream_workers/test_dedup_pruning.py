"""Pruning the insertId dedup table against real PostgreSQL and Kafka (decision 0024): a
retention run deletes the rows no record still to come can repeat, held back by a
partition with records still to apply, and never a row the sink has claimed."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.events import EventRecord, encode_record
from contracts.lanes import Lane, lane_group
from stream_workers import dedup_pruning
from stream_workers.dedup_pruning import lane_partitions
from stream_workers.projections import CREATE_STAGING
from stream_workers.received import RawRecord
from stream_workers.retention import Retainer
from stream_workers.store import CLAIM_NEW
from tests.integration.stream_workers.truth import record
from tests.integration.stream_workers.workers import produce, wait_until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def connect(database: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(database, autocommit=True)


def insert_ids(database: str) -> set[str]:
    with psycopg.connect(database) as conn:
        return {row[0] for row in conn.execute("SELECT insert_id FROM event_dedup").fetchall()}


def remember(database: str, project: str, counted: dict[str, datetime]) -> None:
    """Rows as the sink leaves them for insertIds counted at those times."""
    with psycopg.connect(database, autocommit=True) as conn:
        for insert_id, received in counted.items():
            conn.execute(
                "INSERT INTO event_dedup VALUES (%s, %s, %s)", (project, insert_id, received)
            )


async def append(bootstrap: str, topic: str, records: Sequence[EventRecord]) -> list[RawRecord]:
    """The records appended to partition 0 of ``topic``, as the sink reads them back."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        raws = []
        for r in records:
            value = encode_record(r)
            meta = await producer.send_and_wait(topic, value, partition=0)
            raws.append(RawRecord(0, meta.offset, value))
        return raws
    finally:
        await producer.stop()


async def test_a_run_prunes_what_no_record_still_to_come_can_repeat(
    services, database, make_project, open_sink, kafka_topic
):
    a = await make_project("apricot")
    sink = await open_sink(topic=kafka_topic)
    lanes = [(lane_group("test", Lane.MAIN), kafka_topic)]
    retainer = Retainer(
        "default",
        lambda: connect(database),
        lambda: connect(database),
        lambda db: lane_partitions(services.kafka_bootstrap, db, lanes),
    )
    sent = [
        record(a, "e", NOW, f"u{n}", insert_id=f"sent-{n}", received_at=ago(20)) for n in range(3)
    ]
    applied = await sink.apply(await append(services.kafka_bootstrap, kafka_topic, sent))
    assert applied.applied == 3
    remember(database, a, {"six-days": ago(6), "eight-days": ago(8)})

    # Every partition applied up to its end: what comes next is received from now on.
    run = await retainer.run()
    assert run is not None and run.dedup_rows == 4
    assert insert_ids(database) == {"six-days"}

    # A record still to apply, after one received 20 days ago: rows counted since 27 days
    # ago (its window, less the margin) may still decide it, older ones not.
    remember(database, a, {"26-days": ago(26), "29-days": ago(29)})
    late = [record(a, "e", NOW, "u9", insert_id="26-days", received_at=ago(20))]
    pending = await append(services.kafka_bootstrap, kafka_topic, late)
    run = await retainer.run()
    assert run is not None and run.dedup_rows == 1
    assert insert_ids(database) == {"six-days", "26-days"}
    # ... and it is still known for a repeat (6 days after the row's sighting).
    assert (await sink.apply(pending)).applied == 0


async def test_a_worker_s_retention_run_prunes_its_shard_s_insert_ids(
    services, database, make_project, kafka_topic, spawn
):
    a = await make_project("apricot")
    remember(database, a, {"month-old": ago(30), "day-old": ago(1)})
    sent = [record(a, "e", NOW, f"u{n}", insert_id=f"sent-{n}") for n in range(20)]
    await produce(services.kafka_bootstrap, kafka_topic, sent)
    worker = spawn("w1", RA_WORKER_RETENTION_SECONDS="1")
    worker.start()
    try:
        expected = {"day-old"} | {r.insert_id for r in sent if r.insert_id}
        await wait_until(lambda: insert_ids(database) == expected, 60, "the pruning", [worker.log])
    finally:
        worker.stop()


async def test_an_insert_id_the_sink_claimed_is_not_pruned_before_it_is_read(
    database, make_project
):
    a = await make_project("apricot")
    remember(database, a, {"retried": ago(30)})
    with psycopg.connect(database) as claimer:
        claimer.execute(CREATE_STAGING)
        claimer.execute(
            "INSERT INTO batch_events (part, pos, project_id, insert_id, received_at)"
            " VALUES (0, 0, %s, 'retried', now())",
            (a,),
        )
        claimer.execute(CLAIM_NEW)  # the claim's first statement; its read comes next
        async with await connect(database) as pruner:
            await pruner.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                await dedup_pruning.prune(pruner, ago(7))
            claimer.rollback()
            assert await dedup_pruning.prune(pruner, ago(7)) == 1
    assert insert_ids(database) == set()
