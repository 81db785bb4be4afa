"""The one place that reaches into aiokafka's private client.

aiokafka has no public call to refresh a consumer's cluster metadata, nor to send a raw
request on its connections: a consumer that was never subscribed knows no topic until its
metadata is refreshed, and reading a topic's id (``stream_workers.topic_identity``) needs a
request aiokafka does not wrap. Both go through ``AIOKafkaConsumer._client`` here, and
tests/unit/common/test_kafka.py fails loudly if an aiokafka release renames it.
"""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient


def kafka_client(consumer: AIOKafkaConsumer) -> AIOKafkaClient:
    """The consumer's own connections to the cluster (aiokafka's private ``_client``)."""
    client: AIOKafkaClient = consumer._client
    return client


async def refresh_metadata(consumer: AIOKafkaConsumer) -> bool:
    """Refresh what the consumer knows of the cluster's topics; False when it could not."""
    return bool(await kafka_client(consumer).force_metadata_update())


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """``topic``'s partitions, sorted, on a started consumer ([] when it does not exist): a
    consumer without a subscription has no metadata for it until refreshed once."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await refresh_metadata(consumer)
        partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(partitions)]
