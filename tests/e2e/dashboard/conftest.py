"""The dashboard in headless Chromium against an in-process App API on 127.0.0.1: the real
control plane, query API and dashboard apps on a schema of the test's own, filled by the
stream workers' own sink, with a Kafka topic and consumer group of its own for the ops view.
Screenshots land in test-artifacts/ (gitignored)."""

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from playwright.async_api import BrowserContext, Page
from redis.asyncio import Redis

import control_plane.app
import dashboard.app
import query_api.app
from app_api.app import Mount, create_app
from contracts.config import load_config
from contracts.events import EventRecord
from control_plane.accounts import create_user
from control_plane.deploys import deploy_config
from control_plane.members import add_member
from control_plane.passwords import Passwords
from control_plane.settings import Settings as ControlPlaneSettings
from dashboard.settings import Settings as DashboardSettings
from migrations.runner import apply_migrations
from query_api.settings import Settings as QuerySettings
from stream_workers.metrics import Metrics
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.sink import Sink
from tests.fixtures.services import Services
from tests.integration.stream_workers.conftest import as_raw
from tests.support.browser import chromium, screenshotted_page
from tests.support.projects import new_project

EMAIL = "analyst@example.test"
PASSWORD = "correct horse battery"
DASHBOARDS = [
    {
        "name": "Growth",
        "charts": [
            {
                "title": "Views per hour",
                "range": "24h",
                "query": {"type": "timeseries", "event": "$pageview", "interval": "hour"},
            },
            {"title": "Sign-ups", "range": "7d", "query": {"type": "metric", "event": "signup"}},
            {
                "title": "Top pages",
                "range": "7d",
                "query": {
                    "type": "breakdown",
                    "event": "$pageview",
                    "breakdown": "$pathname",
                    "limit": 2,
                },
            },
        ],
    }
]
PATHS = ["/", "/pricing", "/docs", "/blog"]


@dataclass(frozen=True)
class Stack:
    url: str
    email: str
    password: str
    slug: str
    pageviews: int  # in the last 24 hours
    funnel: tuple[int, int, int]  # users at $pageview, signup, purchase
    produced: dict[int, int]  # records on the ops view's topic, per partition
    committed: dict[int, int]  # the group's committed offsets there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate(project_id: str, now: datetime) -> tuple[list[EventRecord], int, tuple[int, int, int]]:
    """12 visitors over the last 20 hours: 2 page views each; every 2nd signs up after its
    first view, every 4th buys after that. Deterministic, so the test knows the truth."""
    records: list[EventRecord] = []
    n = 0

    def add(event: str, at: datetime, who: int, path: str) -> None:
        nonlocal n
        n += 1
        records.append(
            EventRecord(
                id=f"00000000-0000-7000-8000-{n:012d}",
                project_id=project_id,
                event=event,
                timestamp=at,
                received_at=now,
                distinct_id=f"user-{who}",
                session_id=f"session-{who}",
                properties={"$pathname": path, "plan": "pro" if who % 3 == 0 else "free"},
            )
        )

    for who in range(12):
        first = now - timedelta(hours=20) + timedelta(minutes=97 * who)
        add("$pageview", first, who, PATHS[who % len(PATHS)])
        add("$pageview", first + timedelta(minutes=3), who, PATHS[(who + 1) % len(PATHS)])
        if who % 2 == 0:
            add("signup", first + timedelta(minutes=5), who, "/signup")
        if who % 4 == 0:
            add("purchase", first + timedelta(minutes=9), who, "/checkout")
    return records, 24, (12, 6, 3)


async def fill(
    database: str, redis_url: str, prefix: str, group: str, topic: str, records: list[EventRecord]
) -> None:
    """Apply records as the stream workers do: raw rows, rollups, offsets (with receivedAt)."""
    conn = await psycopg.AsyncConnection.connect(database, autocommit=True)
    client = Redis.from_url(redis_url)

    async def nowhere(items: object) -> None:
        raise AssertionError(f"dead-lettered: {items}")

    sink = Sink(
        conn,
        client,
        consumer=group,
        topic=topic,
        redis_prefix=prefix,
        dead_letter=nowhere,
        keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
        metrics=Metrics(),
    )
    await sink.start()
    await sink.apply(as_raw(records))
    await conn.close()
    await client.aclose()


async def produce_and_commit(
    bootstrap: str, topic: str, group: str
) -> tuple[dict[int, int], dict[int, int]]:
    """Two records on each of partitions 0..3, the group committed past one of them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition in range(4):
            for i in range(2):
                await producer.send_and_wait(
                    topic, b"{}", key=f"k{i}".encode(), partition=partition
                )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(4)]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(1, "") for tp in tps})
    finally:
        await consumer.stop()
    return {p: 2 for p in range(4)}, {p: 1 for p in range(4)}


@pytest.fixture
async def stack(
    services: Services, pg_schema: str, kafka_topic: str, unique_group: str, redis_prefix: str
) -> AsyncIterator[Stack]:
    apply_migrations(pg_schema)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    project = await new_project(pg_schema, "demo", "pro")
    control = ControlPlaneSettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        app_origins=(origin,),
        relay_enabled=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    async with await psycopg.AsyncConnection.connect(pg_schema, autocommit=True) as conn:
        user = await create_user(conn, EMAIL, await Passwords(control).hash(PASSWORD))
        await add_member(conn, project.id, EMAIL, "member")
        # The ops view is for operators (granted on the server's command line).
        await conn.execute("INSERT INTO operators (user_id) VALUES (%s)", (user.id,))
        config = load_config({"dashboards": DASHBOARDS})
        await deploy_config(conn, project.id, config, user.id)
    now = datetime.now(UTC)
    records, pageviews, funnel = generate(project.id, now)
    await fill(pg_schema, services.redis_url, redis_prefix, unique_group, kafka_topic, records)
    produced, committed = await produce_and_commit(
        services.kafka_bootstrap, kafka_topic, unique_group
    )

    query = QuerySettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        app_origins=(origin,),
    )
    ops = DashboardSettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        dead_letter_topic=f"{kafka_topic}-dlq",
    )
    root = create_app(
        [
            Mount(
                "control_plane",
                control_plane.app.MOUNT_PREFIX,
                control_plane.app.create_app(control),
            ),
            Mount("query_api", query_api.app.MOUNT_PREFIX, query_api.app.create_app(query)),
            Mount("dashboard", dashboard.app.MOUNT_PREFIX, dashboard.app.create_app(ops)),
        ]
    )
    server = TestServer(root, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Stack(origin, EMAIL, PASSWORD, "demo", pageviews, funnel, produced, committed)
    finally:
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium(viewport={"width": 1366, "height": 900}) as context:
        yield context


@pytest.fixture
async def page(browser: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    async with screenshotted_page(browser, request, prefix="dashboard-", full_page=True) as page:
        yield page
