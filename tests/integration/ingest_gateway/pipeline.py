"""The whole event path in one test: the gateway's appends read back from Kafka, applied by
the workers' sink as a stream worker applies them, then asked of the query API (a member's
session cookie). Used by the big-integer test and the drop-in formats' tests."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from common.kafka import topic_partitions
from contracts.events import REQUEST_ID_HEADER
from contracts.sessions import Session, encode_session, new_token, session_key
from control_plane.projects import CreatedProject
from query_api.app import create_standalone_app
from query_api.settings import Settings as QuerySettings
from stream_workers.metrics import Metrics
from stream_workers.received import RawRecord, header_text
from stream_workers.sink import Sink

ORIGIN = "http://app.test"
WORKER_GROUP = "pipeline"


async def raw_records(
    bootstrap: str, topic: str, expected: int, settle: float = 0.0
) -> list[RawRecord]:
    """The topic's records as the worker gets them: the bytes the gateway wrote. At least
    ``expected`` of them; with ``settle``, every record that arrives until the topic has
    been quiet that long (a retry's repeat included)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        out: list[RawRecord] = []
        quiet_since = asyncio.get_running_loop().time()
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for tp, messages in batch.items():
                out += [
                    RawRecord(
                        tp.partition, m.offset, m.value, header_text(m.headers, REQUEST_ID_HEADER)
                    )
                    for m in messages
                ]
            now = asyncio.get_running_loop().time()
            if batch:
                quiet_since = now
            if len(out) >= expected and now - quiet_since >= settle:
                return out
        raise AssertionError(f"{len(out)} records on {topic}, expected {expected}")
    finally:
        await consumer.stop()


async def apply(
    database: str,
    redis_url: str,
    prefix: str,
    raws: Sequence[RawRecord],
    breakdown_keys: tuple[str, ...] = (),
) -> int:
    """Apply the records as a stream worker does (raw rows, rollups, with breakdown rollups
    on ``breakdown_keys``); how many were applied (a repeated insertId is not)."""
    conn = await psycopg.AsyncConnection.connect(database, autocommit=True)
    client = Redis.from_url(redis_url)

    async def nowhere(items: object) -> None:
        raise AssertionError(f"dead-lettered: {items}")

    try:
        sink = Sink(
            conn,
            client,
            consumer=WORKER_GROUP,
            topic="events",
            redis_prefix=prefix,
            dead_letter=nowhere,
            keys_for=lambda _: breakdown_keys,
            metrics=Metrics(),
        )
        await sink.start()
        return (await sink.apply(list(raws))).applied
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
        worker_group=WORKER_GROUP,
        app_origins=(ORIGIN,),
    )
    api = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await api.start_server()
    yield api, cookie
    await api.close()


async def ask(api: tuple[TestClient, str], query: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/query`` as the member; the answer (a 200 is asserted)."""
    client, cookie = api
    response = await client.post("/api/query", json=query, cookies={"ra_session": cookie})
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


def stored(database: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
