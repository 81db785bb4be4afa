"""Sends malformed records to the dead-letter topic, the reason in a header."""

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream_workers.sink import RawRecord

REASON_HEADER = "ra-error"
SOURCE_HEADER = "ra-source"  # topic:partition:offset of the original record


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
            headers = [
                (REASON_HEADER, reason[:1000].encode()),
                (SOURCE_HEADER, f"{self._source}:{raw.partition}:{raw.offset}".encode()),
            ]
            acks.append(await self._producer.send(self._topic, value=raw.value, headers=headers))
        for ack in acks:
            await ack
