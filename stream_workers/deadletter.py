"""Sends malformed records to the dead-letter topic, the reason in a header; each is logged
with its position and the request that appended it (never its value)."""

import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.events import REQUEST_ID_HEADER
from stream_workers.received import RawRecord

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
    if len(raw.value) <= MAX_VALUE_BYTES:
        return raw.value, headers
    return b"", [*headers, (OMITTED_HEADER, str(len(raw.value)).encode())]


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
