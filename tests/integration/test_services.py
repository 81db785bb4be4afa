"""The real servers the integration tests rely on, and the per-test isolation fixtures."""

import asyncio

import psycopg
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.fixtures.services import Services

pytestmark = pytest.mark.integration


def test_postgres_answers_at_the_url(services: Services) -> None:
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        version = conn.execute("show server_version_num").fetchone()
        assert version is not None and version[0].startswith("15")


def test_pg_schema_puts_unqualified_tables_in_a_schema_of_its_own(
    services: Services, pg_schema: str
) -> None:
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        row = conn.execute("select current_schema()").fetchone()
        assert row is not None
        schema = row[0]
        assert schema.startswith("t_")
        conn.execute("create table probe (id int)")
        conn.execute("insert into probe values (1)")
    with psycopg.connect(services.database_url) as conn:
        found = conn.execute(
            "select table_schema from information_schema.tables where table_name = 'probe'"
        ).fetchall()
        assert (schema,) in found
        assert ("public",) not in found


def test_redis_answers_ping(services: Services, redis_prefix: str) -> None:
    with redis.Redis.from_url(services.redis_url) as client:
        assert client.ping() is True
        client.set(f"{redis_prefix}probe", "1")
        assert client.get(f"{redis_prefix}probe") == b"1"


async def test_a_record_produced_to_the_test_topic_is_consumed_back(
    services: Services, kafka_topic: str, unique_group: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=services.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(kafka_topic, b'{"probe": 1}', key=b"user-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        kafka_topic,
        bootstrap_servers=services.kafka_bootstrap,
        group_id=unique_group,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=20)
    finally:
        await consumer.stop()
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert (record.key, record.value) == (b"user-1", b'{"probe": 1}')


async def test_the_standard_topics_exist_as_designed(services: Services) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        names = ["events", "events-overflow", "control"]
        topics = {t["topic"]: t for t in await admin.describe_topics(names)}
        [configs] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "control", {"cleanup.policy": None})]
        )
    finally:
        await admin.close()
    assert {name: t["error_code"] for name, t in topics.items()} == dict.fromkeys(names, 0)
    assert len(topics["events"]["partitions"]) == 12
    assert len(topics["events-overflow"]["partitions"]) == 12
    assert len(topics["control"]["partitions"]) == 1
    [resource] = configs.to_object()["resources"]
    assert resource["config_entries"][0]["config_value"] == "compact"
