"""aiokafka's private client, as common.kafka reaches it: if a release renames or reshapes
what the services rely on, this fails here rather than in a running worker."""

import inspect

from aiokafka import AIOKafkaConsumer
from aiokafka.client import AIOKafkaClient

from common.kafka import kafka_client


async def test_a_consumer_still_has_the_private_client_the_services_use() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")  # never started
    try:
        client = kafka_client(consumer)
        assert isinstance(client, AIOKafkaClient)
        assert inspect.iscoroutinefunction(client.send)
        assert callable(client.force_metadata_update)  # returns a future to await
        assert callable(client.get_random_node)
    finally:
        await consumer.stop()
