"""The dashboard app on its own, on the real PostgreSQL, Redis and Kafka."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dashboard.app import create_standalone_app
from dashboard.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services


async def client_for(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(
    services: Services, pg_schema: str, kafka_topic: str, unique_group: str, redis_prefix: str
) -> AsyncIterator[TestClient]:
    apply_migrations(pg_schema)
    settings = Settings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        dead_letter_topic=f"{kafka_topic}-dlq",
    )
    c = await client_for(settings)
    yield c
    await c.close()
