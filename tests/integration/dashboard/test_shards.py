"""Sharded (contracts/shards.py): the ops view shows every shard's workers — each lane of
each shard from its own consumer group and its shard's database — and the project
figures read a sharded project's usage where its workers count it."""

import socket

import psycopg
import pytest
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaProducer

from contracts.sessions import SESSION_COOKIE
from dashboard.settings import Settings
from tests.fixtures.services import Services
from tests.integration.dashboard.conftest import client_for, log_in
from tests.integration.dashboard.test_project_usage import _THIS_MONTH, add_project

pytestmark = pytest.mark.integration


async def test_every_shards_workers_and_usage_are_shown(
    services: Services,
    pg_schema: str,
    shard_database: str,
    kafka_topic: str,
    unique_group: str,
    redis_prefix: str,
) -> None:
    operator = log_in(services, pg_schema, redis_prefix, operator=True)
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        add_project(conn, "home", limit=100, used=150)  # 50 over, in the control database
        away = add_project(conn, "away", limit=100, used=None)
        conn.execute("UPDATE projects SET shard = 'eu' WHERE id = %s", (away,))
    eu_group = f"{unique_group}-shard-eu"
    with psycopg.connect(shard_database, autocommit=True) as conn:
        # The eu workers' count (70 over) and offsets live in the eu database.
        conn.execute(
            f"INSERT INTO usage_months (project_id, month, used) VALUES (%s, {_THIS_MONTH}, 170)",
            (away,),
        )
        conn.execute(
            "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset,"
            " last_received_at) VALUES (%s, %s, 4, 2, now() - interval '20 seconds')",
            (eu_group, kafka_topic),
        )
    producer = AIOKafkaProducer(bootstrap_servers=services.kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(kafka_topic, b"{}", partition=4)
    finally:
        await producer.stop()
    settings = Settings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        dead_letter_topic=f"{kafka_topic}-dlq",
        shard_databases={"default": pg_schema, "eu": shard_database},
    )
    client: TestClient = await client_for(settings)
    try:
        cookies = {SESSION_COOKIE: operator.session_id}
        ops = await (await client.get("/dashboard/api/ops", cookies=cookies)).json()
        usage = await (await client.get("/dashboard/api/ops/projects", cookies=cookies)).json()
    finally:
        await client.close()
    assert [(lane["shard"], lane["lane"], lane["group"]) for lane in ops["lanes"]] == [
        ("default", "main", unique_group),
        ("default", "overflow", f"{unique_group}-overflow"),
        ("eu", "main", eu_group),
        ("eu", "overflow", f"{eu_group}-overflow"),
    ]
    [eu_partition] = [p for p in ops["partitions"] if p["shard"] == "eu" and p["partition"] == 4]
    assert (eu_partition["logEnd"], eu_partition["stored"]) == (3, 2)
    assert 19 <= eu_partition["freshnessSeconds"] < 60
    assert ops["overageThisMonth"] == 50 + 70
    used = {p["slug"]: (p["used"], p["overage"]) for p in usage["projects"]}
    assert used == {"home": (150, 50), "away": (170, 70)}
    assert usage["overageThisMonth"] == 120


async def test_a_shard_that_does_not_answer_is_shown_down_not_the_whole_view(
    services: Services,
    pg_schema: str,
    kafka_topic: str,
    unique_group: str,
    redis_prefix: str,
) -> None:
    operator = log_in(services, pg_schema, redis_prefix, operator=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    settings = Settings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        dead_letter_topic=f"{kafka_topic}-dlq",
        shard_databases={
            "default": pg_schema,
            "eu": f"postgresql://nobody@127.0.0.1:{closed}/none?connect_timeout=1",
        },
    )
    client: TestClient = await client_for(settings)
    try:
        cookies = {SESSION_COOKIE: operator.session_id}
        response = await client.get("/dashboard/api/ops", cookies=cookies)
        ops = await response.json()
    finally:
        await client.close()
    assert response.status == 200
    assert ops["services"]["postgres"]["up"] is True
    assert ops["services"]["shards"] == {"eu": False}
    assert {(lane["shard"], lane["lane"]) for lane in ops["lanes"]} == {
        ("default", "main"),
        ("default", "overflow"),
        ("eu", "main"),
        ("eu", "overflow"),
    }
    assert ops["overageThisMonth"] is None  # the eu projects' is not known
