"""What Kafka says a topic is now: its topic id and each partition's log start and end.

A topic deleted and created again keeps its name and restarts its offsets at 0, so only
its id (a UUID Kafka gives each topic at creation, KIP-516) tells the two apart. aiokafka
sends Metadata requests up to v5, which carry no id; ``TopicIdRequest`` below is Metadata
v12 (Kafka 3.1 and later; this project runs 4.1), written with aiokafka's own protocol
types and sent over the consumer's own connection — about forty lines instead of a second
Kafka client (ADR 0013). Log start and end offsets come from aiokafka's ListOffsets.
"""

import asyncio
import uuid
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.protocol.abstract import AbstractType
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from common.kafka import kafka_client

UNKNOWN_TOPIC_OR_PARTITION = 3
NO_ID = uuid.UUID(int=0)


class Uuid(AbstractType[uuid.UUID]):  # type: ignore[misc]  # aiokafka is untyped here
    """The protocol's UUID: 16 bytes, big-endian."""

    @classmethod
    def encode(cls, value: uuid.UUID) -> bytes:
        return value.bytes

    @classmethod
    def decode(cls, data: BytesIO) -> uuid.UUID:
        raw = data.read(16)
        if len(raw) != 16:
            raise ValueError("Buffer underrun decoding UUID")
        return uuid.UUID(bytes=raw)


# Named as aiokafka names its protocol versions.
class MetadataResponse_v12(Response):  # type: ignore[misc]
    API_KEY = 3
    API_VERSION = 12
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "brokers",
            CompactArray(
                ("node_id", Int32),
                ("host", CompactString("utf-8")),
                ("port", Int32),
                ("rack", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("cluster_id", CompactString("utf-8")),
        ("controller_id", Int32),
        (
            "topics",
            CompactArray(
                ("error_code", Int16),
                ("name", CompactString("utf-8")),
                ("topic_id", Uuid),
                ("is_internal", Boolean),
                (
                    "partitions",
                    CompactArray(
                        ("error_code", Int16),
                        ("partition_index", Int32),
                        ("leader_id", Int32),
                        ("leader_epoch", Int32),
                        ("replica_nodes", CompactArray(Int32)),
                        ("isr_nodes", CompactArray(Int32)),
                        ("offline_replicas", CompactArray(Int32)),
                        ("tags", TaggedFields),
                    ),
                ),
                ("topic_authorized_operations", Int32),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class MetadataRequest_v12(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 3
    API_VERSION = 12
    RESPONSE_TYPE = MetadataResponse_v12
    SCHEMA = Schema(
        (
            "topics",
            CompactArray(
                ("topic_id", Uuid), ("name", CompactString("utf-8")), ("tags", TaggedFields)
            ),
        ),
        ("allow_auto_topic_creation", Boolean),
        ("include_topic_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class TopicIdRequest(Request[MetadataRequest_v12]):  # type: ignore[misc]
    """Metadata of some topics by name, never creating one."""

    API_KEY = 3

    def __init__(self, topics: list[str]) -> None:
        self._topics = topics

    def build(self, request_struct_class: type[MetadataRequest_v12]) -> MetadataRequest_v12:
        return request_struct_class([(NO_ID, t, {}) for t in self._topics], False, False, {})


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic as Kafka has it now."""

    topic_id: uuid.UUID
    starts: dict[int, int]  # log start offset per partition
    ends: dict[int, int]  # log end offset per partition


def topic_id_of(response: Any, topic: str) -> tuple[uuid.UUID, list[int]] | None:
    """The id and partitions of ``topic`` in a Metadata v12 response; None when Kafka does
    not know it. Any other error is raised."""
    for error_code, name, topic_id, _, partitions, *_ in response.topics:
        if name != topic:
            continue
        if error_code == UNKNOWN_TOPIC_OR_PARTITION:
            return None
        if error_code:
            raise RuntimeError(f"metadata of topic {topic} failed with error code {error_code}")
        return topic_id, sorted(int(p[1]) for p in partitions)
    return None


class TopicReader:
    """Reads topic states over one long-lived consumer connection (no group)."""

    def __init__(self, bootstrap: str, timeout_seconds: float = 10.0) -> None:
        self._timeout = timeout_seconds
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            request_timeout_ms=int(timeout_seconds * 1000),
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def read(self, topic: str) -> TopicState | None:
        """``topic``'s id and offsets now; None when it does not exist."""
        return await asyncio.wait_for(self._read(topic), self._timeout)

    async def _read(self, topic: str) -> TopicState | None:
        client = kafka_client(self._consumer)
        response = await client.send(client.get_random_node(), TopicIdRequest([topic]))
        found = topic_id_of(response, topic)
        if found is None:
            return None
        topic_id, partitions = found
        if set(self._consumer.partitions_for_topic(topic) or ()) != set(partitions):
            await client.force_metadata_update()  # a new or recreated topic: leaders anew
        tps = [TopicPartition(topic, p) for p in partitions]
        starts = await self._consumer.beginning_offsets(tps)
        ends = await self._consumer.end_offsets(tps)
        return TopicState(
            topic_id,
            {tp.partition: int(o) for tp, o in starts.items()},
            {tp.partition: int(o) for tp, o in ends.items()},
        )
