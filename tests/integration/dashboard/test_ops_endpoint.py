"""The dashboard app on its own: pages and assets served, the pipeline's ops JSON for
operators only (members read their projects' figures: test_project_usage.py), and a Kafka
that does not answer reported as down rather than as an error."""

import socket

import psycopg
import pytest
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from contracts.sessions import SESSION_COOKIE
from dashboard.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services
from tests.integration.dashboard.conftest import client_for, session_of

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cookie(services: Services, pg_schema: str, redis_prefix: str) -> str:
    return session_of(services, pg_schema, redis_prefix, operator=True)


async def test_pages_and_the_vendored_chart_library_are_served(client: TestClient) -> None:
    page = await client.get("/dashboard/")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert 'src="static/vendor/uPlot.iife.min.js"' in await page.text()
    assert (await client.get("/dashboard/ops")).status == 200
    licence = await client.get("/dashboard/static/vendor/uPlot.LICENSE")
    assert "MIT License" in await licence.text()
    redirect = await client.get("/dashboard", allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Location"] == "/dashboard/"


async def test_the_ops_json_is_for_operators(
    client: TestClient, cookie: str, services: Services, pg_schema: str, redis_prefix: str
) -> None:
    assert (await client.get("/dashboard/api/ops")).status == 401
    stale = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: "nope"})
    assert stale.status == 401
    # Any other signed-in user: every project's figures are not theirs to read.
    user = session_of(services, pg_schema, redis_prefix, operator=False)
    refused = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: user})
    assert refused.status == 403
    assert await refused.json() == {"error": "The ops view is for operators"}
    ops = await (await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})).json()
    assert len(ops["partitions"]) == 12
    assert ops["totals"] == {"logEnd": 0, "committed": 0, "lag": None}
    assert ops["services"] == {
        "kafka": {"up": True, "error": None},
        "postgres": {"up": True, "error": None},
        "redis": {"up": True, "error": None},
    }
    assert ops["deadLettered"] == 0 and ops["overageThisMonth"] == 0
    assert ops["lagGrowth"]["alert"] is False


async def test_a_foreign_page_cannot_read_with_the_cookie(client: TestClient, cookie: str) -> None:
    # The one Origin rule (common.auth): a cookie request from another origin is refused,
    # reads included; the page's own requests (no Origin, or the App API's) are answered.
    cookies = {SESSION_COOKIE: cookie}
    foreign = await client.get(
        "/dashboard/api/ops", cookies=cookies, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status == 403
    assert await foreign.json() == {"error": "Origin not allowed"}
    own = {"Origin": "http://127.0.0.1:8081"}
    assert (await client.get("/dashboard/api/ops", cookies=cookies, headers=own)).status == 200
    assert (await client.get("/dashboard/api/ops", cookies=cookies)).status == 200


async def test_kafka_down_is_reported_not_raised(
    services: Services, pg_schema: str, redis_prefix: str, cookie: str
) -> None:
    apply_migrations(pg_schema)
    settings = Settings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=f"127.0.0.1:{closed_port()}",
        redis_prefix=redis_prefix,
        probe_timeout_seconds=2.0,
    )
    client = await client_for(settings)
    try:
        response = await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})
        ops = await response.json()
    finally:
        await client.close()
    assert response.status == 200
    assert ops["services"]["kafka"]["up"] is False and ops["services"]["postgres"]["up"] is True
    assert ops["partitions"] == [] and ops["deadLettered"] is None


async def test_both_lanes_are_shown_each_with_its_lag_and_freshness(
    services: Services,
    client: TestClient,
    cookie: str,
    pg_schema: str,
    kafka_topic: str,
    overflow_topic: str,
    unique_group: str,
) -> None:
    """A hot project's backlog on the overflow lane shows as that lane's lag, next to the
    main lane's; the totals are over both."""
    bootstrap = services.kafka_bootstrap
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(overflow_topic, b"{}", key=b"k", partition=0)
        await producer.send_and_wait(kafka_topic, b"{}", key=b"k", partition=5)
    finally:
        await producer.stop()
    overflow_group = f"{unique_group}-overflow"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=overflow_group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(overflow_topic, 0)])
        await consumer.commit({TopicPartition(overflow_topic, 0): OffsetAndMetadata(1, "")})
    finally:
        await consumer.stop()
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset,"
            " last_received_at) VALUES (%s, %s, 0, 1, now() - interval '30 seconds')",
            (overflow_group, overflow_topic),
        )

    ops = await (await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})).json()
    main, overflow = ops["lanes"]
    assert (main["lane"], main["group"], main["topic"]) == ("main", unique_group, kafka_topic)
    assert main["totals"] == {"logEnd": 1, "committed": 0, "lag": None}
    assert (overflow["lane"], overflow["group"], overflow["topic"]) == (
        "overflow",
        overflow_group,
        overflow_topic,
    )
    assert overflow["totals"] == {"logEnd": 3, "committed": 1, "lag": 2}
    assert 29 <= overflow["freshnessSeconds"] < 60
    assert ops["totals"] == {"logEnd": 4, "committed": 1, "lag": 2}
    assert len(ops["partitions"]) == 24
    [hot] = [p for p in ops["partitions"] if p["lane"] == "overflow" and p["partition"] == 0]
    assert hot == {
        "shard": "default",
        "lane": "overflow",
        "topic": overflow_topic,
        "partition": 0,
        "logEnd": 3,
        "committed": 1,
        "lag": 2,
        "freshnessSeconds": hot["freshnessSeconds"],
        "stored": 1,
        "inconsistency": None,
    }


async def test_a_partition_the_workers_hold_says_why_and_is_listed_for_the_banner(
    client: TestClient, cookie: str, pg_schema: str, kafka_topic: str, unique_group: str
) -> None:
    """The workers hold a partition whose stored offsets contradict Kafka (issue 16): the
    ops view shows it, with its stored offset and the reason, where an operator looks."""
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset,"
            " inconsistent, kafka_offset) VALUES (%s, %s, 4, 50, 'topic_recreated', 0),"
            " (%s, %s, 5, 7, NULL, NULL)",
            (unique_group, kafka_topic, unique_group, kafka_topic),
        )
    ops = await (await client.get("/dashboard/api/ops", cookies={SESSION_COOKIE: cookie})).json()
    by_partition = {p["partition"]: p for p in ops["partitions"] if p["lane"] == "main"}
    assert by_partition[5]["stored"] == 7 and by_partition[5]["inconsistency"] is None
    [held] = ops["held"]
    assert held == by_partition[4]
    assert held["stored"] == 50
    assert (
        "topic recreated" in held["inconsistency"]
        and "stored next offset 50" in held["inconsistency"]
    )
