"""A deployed config's breakdown keys apply without a restart; malformed records go to the
dead-letter topic with their reason, and the worker goes on."""

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.control import ConfigDeployed, control_key, encode_control
from tests.integration.stream_workers.truth import record
from tests.integration.stream_workers.workers import applied_offsets, produce, wait_until

pytestmark = pytest.mark.integration


async def send(bootstrap: str, topic: str, value: bytes | None, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def test_config_deploy_adds_breakdown_keys_live_and_bad_records_are_dead_lettered(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    bootstrap = services.kafka_bootstrap
    control = worker_env["RA_CONTROL_TOPIC"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(control, 1, 1)])
    await admin.close()
    project = await make_project()
    now = datetime.now(UTC)
    before = [record(project, "buy", now, f"u{n}", properties={"plan": "pro"}) for n in range(50)]
    after = [record(project, "buy", now, f"v{n}", properties={"plan": "team"}) for n in range(70)]
    worker = spawn("w1")
    worker.start()
    try:
        await produce(bootstrap, kafka_topic, before)
        await wait_until(lambda: applied_offsets(database, unique_group) == 50, 60, "first load")
        deploy = ConfigDeployed(project, 1, {"breakdownKeys": ["plan"]})
        await send(bootstrap, control, encode_control(deploy), control_key(project))
        await asyncio.sleep(2)  # the follower polls every 0.5 s
        await send(bootstrap, kafka_topic, b'{"not": "an event"}', b"x")
        await send(bootstrap, kafka_topic, None, b"x")  # a tombstone: no value at all
        await produce(bootstrap, kafka_topic, after)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == 122, 60, "second load", [worker.log]
        )
    finally:
        worker.stop()
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT value, events FROM breakdown_rollups"
            " WHERE key = 'plan' AND granularity = 'day' ORDER BY value"
        ).fetchall()
        assert rows == [("team", 70)]
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (120,)

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(worker_env["RA_WORKER_DEAD_LETTER_TOPIC"], 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        batch = await consumer.getmany(tp, timeout_ms=5000)
    finally:
        await consumer.stop()
    dead, tombstone = batch[tp]
    assert dead.value == b'{"not": "an event"}'
    headers = dict(dead.headers)
    assert b"invalid record" in headers["ra-error"]
    assert headers["ra-source"].startswith(kafka_topic.encode())
    assert not tombstone.value and dict(tombstone.headers)["ra-error"]
