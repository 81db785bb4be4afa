"""The librdkafka appender against the real broker: each record on the partition the Java
client (and ingest_gateway.partitioner) would choose for its key, with the request's id as a
header, and /ready's probe true for a led topic and false for a missing one."""

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from common.kafka import topic_partitions
from contracts.events import REQUEST_ID_HEADER
from ingest_gateway.partitioner import partition_for
from ingest_gateway.producer import EventAppender
from tests.fixtures.services import TEST_TOPIC_PARTITIONS

pytestmark = pytest.mark.integration


async def read_records(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + 10
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(messages)
        return records
    finally:
        await consumer.stop()


async def test_records_land_on_the_java_clients_partition_with_the_request_id(
    services: Any, kafka_topic: str
) -> None:
    appender = EventAppender(services.kafka_bootstrap, kafka_topic, 5.0, 5)
    await appender.start()
    try:
        assert await appender.ready()
        keys = [f"project-{i % 5}:user-{i:05d}".encode() for i in range(300)]
        for start in range(0, len(keys), 100):
            chunk = [(key, b'{"n": 1}') for key in keys[start : start + 100]]
            await appender.append(chunk, request_id=f"req-{start}")
    finally:
        await appender.stop()

    records = await read_records(services.kafka_bootstrap, kafka_topic, len(keys))
    assert sorted(r.key for r in records) == sorted(keys)
    every = list(range(TEST_TOPIC_PARTITIONS))
    assert [r.key for r in records if r.partition != partition_for(r.key, every, every)] == []
    assert len({r.partition for r in records}) == TEST_TOPIC_PARTITIONS
    ids = {r.key: dict(r.headers)[REQUEST_ID_HEADER] for r in records}
    assert ids[keys[0]] == b"req-0" and ids[keys[299]] == b"req-200"


async def test_not_ready_for_a_topic_that_does_not_exist(services: Any) -> None:
    missing = f"no-such-topic-{uuid.uuid4().hex[:12]}"
    appender = EventAppender(services.kafka_bootstrap, missing, 5.0, 5)
    await appender.start(wait_seconds=1.5)
    try:
        assert not await appender.ready()
    finally:
        await appender.stop()
