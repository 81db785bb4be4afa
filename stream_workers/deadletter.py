"""Sends malformed records to the dead-letter topic, the reason in a header; each is logged
with its position and the request that appended it (never its value).

A record the database refused was decoded fine, so the worker no longer held its bytes
(stream_workers/received.py): they are read back from its topic by its position first."""

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.events import REQUEST_ID_HEADER
from stream_workers.received import RawRecord, raw_record

logger = logging.getLogger(__name__)

REASON_HEADER = "ra-error"
SOURCE_HEADER = "ra-source"  # topic:partition:offset of the original record
OMITTED_HEADER = "ra-omitted-bytes"  # set when the value was too big to carry
MAX_REASON_CHARS = 1000
# A record the events topic took may be too big for the dead-letter topic once headers
# are added (both have Kafka's ~1 MB default); refused there, it would be retried
# forever and hold every project back. Bigger values are left out: ra-source points at
# the original, on the events topic for its retention.
MAX_VALUE_BYTES = 512 * 1024
# Set when a record's value could not be read back from its topic (gone by retention).
MISSING_HEADER = "ra-value-missing"
READ_BACK_SECONDS = 30.0


def dead_letter(
    raw: RawRecord, reason: str, source_topic: str
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The dead-letter record of ``raw``: its value (if it fits) and headers."""
    headers = [
        (REASON_HEADER, reason[:MAX_REASON_CHARS].encode()),
        (SOURCE_HEADER, f"{source_topic}:{raw.partition}:{raw.offset}".encode()),
    ]
    if raw.request_id:
        headers.append((REQUEST_ID_HEADER, raw.request_id.encode()))
    if raw.value is None:
        return b"", [*headers, (MISSING_HEADER, b"1")]
    if len(raw.value) <= MAX_VALUE_BYTES:
        return raw.value, headers
    return b"", [*headers, (OMITTED_HEADER, str(len(raw.value)).encode())]


async def read_back(bootstrap: str, topic: str, unread: Sequence[RawRecord]) -> list[RawRecord]:
    """``unread`` with their values and request ids read from ``topic`` at their positions;
    a record no longer there (before the log's start) keeps ``value=None``. Rare (records
    the database refused), so one seek and fetch a record."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(list({TopicPartition(topic, raw.partition) for raw in unread}))
        found = []
        for raw in unread:
            tp = TopicPartition(topic, raw.partition)
            consumer.seek(tp, raw.offset)
            async with asyncio.timeout(READ_BACK_SECONDS):  # not fetched: the batch is retried
                message = await consumer.getone(tp)
            if message.offset == raw.offset:
                found.append(raw_record(message))
            else:  # the log starts after it now
                found.append(raw)
        return found
    finally:
        await consumer.stop()


class DeadLetterProducer:
    def __init__(self, bootstrap: str, source_topic: str, topic: str, partitions: int = 1) -> None:
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        self._source = source_topic
        self._topic = topic

    async def start(self) -> None:
        # Created up front: relying on broker auto-creation logs errors and may be off.
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self._topic, self._partitions, 1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __call__(self, items: Sequence[tuple[RawRecord, str]]) -> None:
        """Append every record and wait for all acks (the batch commits only after)."""
        unread = [raw for raw, _ in items if raw.value is None]
        if unread:
            values = iter(await read_back(self._bootstrap, self._source, unread))
            items = [(next(values) if raw.value is None else raw, why) for raw, why in items]
        acks = []
        for raw, reason in items:
            logger.warning(
                "dead-lettered %s:%d:%d (%s)",
                self._source,
                raw.partition,
                raw.offset,
                reason.split(":", 1)[0][:80],
                extra={"request_id": raw.request_id},
            )
            value, headers = dead_letter(raw, reason, self._source)
            acks.append(await self._producer.send(self._topic, value=value, headers=headers))
        for ack in acks:
            await ack
