"""Reading a topic back in tests: every record from the start, until a count or a deadline."""

import asyncio

import orjson
from aiokafka import AIOKafkaConsumer

from common.kafka import topic_partitions


async def read_topic(
    bootstrap: str, topic: str, expected: int | None = None, timeout: float = 10.0
) -> list[dict[str, object]]:
    """All records on ``topic`` (JSON values, plus ``_key``/``_partition``), waiting up to
    ``timeout`` for ``expected`` of them (or, with ``expected=None``, the whole timeout)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[dict[str, object]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and (expected is None or len(records) < expected):
            batches = await consumer.getmany(timeout_ms=200)
            for tp, messages in batches.items():
                for message in messages:
                    value = orjson.loads(message.value)
                    value["_key"] = message.key.decode() if message.key else None
                    value["_partition"] = tp.partition
                    records.append(value)
        return records
    finally:
        await consumer.stop()
