"""Integers past 2^53 end to end: gateway → Kafka → the workers' sink → PostgreSQL → query API.

A JavaScript number holds integers exactly only up to 2^53 - 1; the stack must not round
through a double anywhere. Within 64 bits an integer is kept exact (the raw store's jsonb,
a breakdown's key, a filter); past 64 bits the JSON parser would make it a float, so the
gateway refuses it (docs/api.md).
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from contracts.sessions import Session, encode_session, new_token, session_key
from control_plane.projects import CreatedProject
from query_api import answers
from query_api.app import create_standalone_app
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS
from query_api.settings import Settings as QuerySettings
from stream_workers.metrics import Metrics
from stream_workers.received import RawRecord
from stream_workers.sink import Sink
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

DAY = datetime(2026, 2, 3, tzinfo=UTC)
WHEN = DAY + timedelta(hours=15, minutes=30)
PAST_DOUBLE = 2**53 + 1  # the first integer a double cannot hold: it reads back as 2^53
BIGS = [PAST_DOUBLE, 2**53, 2**63 - 1, 2**64 - 1, -(2**63)]
ORIGIN = "http://app.test"


async def raw_records(bootstrap: str, topic: str, expected: int) -> list[RawRecord]:
    """The topic's records as the worker gets them: the bytes the gateway wrote."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        out: list[RawRecord] = []
        for _ in range(50):
            for tp, messages in (await consumer.getmany(timeout_ms=200)).items():
                out += [RawRecord(tp.partition, m.offset, m.value) for m in messages]
            if len(out) >= expected:
                return out
        raise AssertionError(f"{len(out)} records on {topic}, expected {expected}")
    finally:
        await consumer.stop()


async def apply(database: str, redis_url: str, prefix: str, raws: list[RawRecord]) -> None:
    """As a stream worker applies them: raw rows, rollups (with a breakdown on ``big``)."""
    conn = await psycopg.AsyncConnection.connect(database, autocommit=True)
    client = Redis.from_url(redis_url)

    async def nowhere(items: object) -> None:
        raise AssertionError(f"dead-lettered: {items}")

    try:
        sink = Sink(
            conn,
            client,
            consumer="big-integers",
            topic="events",
            redis_prefix=prefix,
            dead_letter=nowhere,
            keys_for=lambda _: ("big",),
            metrics=Metrics(),
        )
        await sink.start()
        result = await sink.apply(raws)
        assert result.applied == len(raws)
    finally:
        await conn.close()
        await client.aclose()


@pytest.fixture
async def query_api(
    database: str, services: Any, redis_prefix: str, project: CreatedProject
) -> AsyncIterator[tuple[TestClient, str]]:
    """The query API and the session cookie of a member of ``project``."""
    user = str(uuid.uuid4())
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user, f"{user}@example.test"),
        )
        conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'member')",
            (project.id, user),
        )
    cookie = new_token()
    with redis.Redis.from_url(services.redis_url) as client:
        session = Session(user, f"{user}@example.test", datetime.now(UTC))
        client.set(session_key(redis_prefix, cookie), encode_session(session), ex=600)
    settings = QuerySettings(
        database_url=database,
        redis_url=services.redis_url,
        redis_prefix=redis_prefix,
        worker_group="big-integers",
        app_origins=(ORIGIN,),
    )
    api = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await api.start_server()
    yield api, cookie
    await api.close()


def breakdown(slug: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "breakdown",
        "projectId": slug,
        "event": "page_viewed",
        "breakdown": "big",
        "limit": 100,
        "dateRange": {  # whole days: the breakdown rollup answers
            "start": DAY.isoformat(),
            "end": (DAY + timedelta(days=1, milliseconds=-1)).isoformat(),
        },
        **extra,
    }


def by_key(group: dict[str, Any]) -> str:
    return str(group["key"])


async def test_integers_within_64_bits_are_exact_from_gateway_to_query_api(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: tuple[TestClient, str],
) -> None:
    batch = [
        event(n, timestamp=WHEN.isoformat(), properties={"big": big, "nested": {"big": [big]}})
        for n, big in enumerate(BIGS)
    ]
    status, _ = await post(gateway, orjson.dumps(batch), project.public_key)
    assert status == 200
    raws = await raw_records(services.kafka_bootstrap, kafka_topic, len(BIGS))
    on_topic = sorted(orjson.loads(r.value)["properties"]["big"] for r in raws)
    assert on_topic == sorted(BIGS)

    await apply(database, services.redis_url, redis_prefix, raws)
    with psycopg.connect(database) as conn:
        stored = conn.execute(
            "SELECT properties ->> 'big', properties #>> '{nested,big,0}' FROM events"
        ).fetchall()
    assert sorted(stored) == sorted((str(b), str(b)) for b in BIGS)

    api, cookie = query_api
    expected = [{"key": str(b), "value": 1} for b in sorted(BIGS, key=str)]
    response = await api.post(
        "/api/query", json=breakdown(project.slug), cookies={"ra_session": cookie}
    )
    assert response.status == 200, await response.text()
    from_rollup = await response.json()
    assert from_rollup["meta"]["source"] == "rollup"  # the breakdown key the worker wrote
    assert sorted(from_rollup["data"], key=by_key) == expected
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        raw_answer, _ = await answers.breakdown(
            conn,
            project.id,
            parse_query(breakdown(project.slug), DEFAULT_MAX_RANGE_SECONDS),  # type: ignore[arg-type]
            force_raw=True,
        )
    assert sorted(raw_answer["data"], key=by_key) == expected  # type: ignore[arg-type,index]

    # A filter tells 2^53 + 1 from 2^53, which a double cannot.
    filtered = breakdown(project.slug, filter={"key": "big", "op": "eq", "value": PAST_DOUBLE})
    response = await api.post("/api/query", json=filtered, cookies={"ra_session": cookie})
    assert response.status == 200, await response.text()
    assert (await response.json())["data"] == [{"key": str(PAST_DOUBLE), "value": 1}]


@pytest.mark.parametrize(
    ("literal", "field"),
    [
        (b'{"big": 18446744073709551616}', "properties.big"),  # 2^64
        (b'{"big": -9223372036854775809}', "properties.big"),  # -2^63 - 1
        (b'{"ids": {"order": [123456789012345678901234567890]}}', "properties.ids"),
    ],
    ids=["2^64", "-2^63-1", "nested-30-digits"],
)
async def test_integers_past_64_bits_are_refused_not_rounded(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    literal: bytes,
    field: str,
) -> None:
    # Written by hand: no JSON encoder here writes an integer past 64 bits.
    bad = orjson.dumps(event(1, properties="HERE")).replace(b'"HERE"', literal)
    body = b"[" + orjson.dumps(event(0)) + b"," + bad + b"]"
    status, answer = await post(gateway, body, project.public_key)
    assert status == 400, answer
    [detail] = answer["details"]
    assert (detail["index"], detail["field"]) == (1, field)
    assert "64-bit" in detail["message"]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []
