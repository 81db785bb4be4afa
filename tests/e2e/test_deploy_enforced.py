"""A config deployed with the CLI is enforced by a running gateway (tracking plan, origins)
and rolled up by a running stream worker (its breakdown key) — no restart of either."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest_gateway.settings import Settings as GatewaySettings
from tests.e2e.conftest import browser_signup
from tests.e2e.test_cli_flow import YAML, cli
from tests.fixtures.services import Services, wait_for_leaders
from tests.integration.ingest_gateway.conftest import start_gateway
from tests.integration.stream_workers.workers import WorkerProcess
from tests.support.testlogs import service_log

pytestmark = pytest.mark.e2e


@pytest.fixture
async def events_topic(services: Services, kafka_topic: str) -> AsyncIterator[str]:
    topic = f"{kafka_topic}-events"
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 12, 1)])
        await wait_for_leaders(admin, topic, 12)
        yield topic
    finally:
        await admin.close()


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.2)


def signup(n: int, plan: str) -> dict[str, Any]:
    return {
        "event": "signup_completed",
        "timestamp": "2026-02-03T15:30:00.000Z",
        "distinctId": f"user_{n}",
        "sessionId": f"sess_{n}",
        "properties": {"plan": plan},
    }


async def plan_counts(database: str, project_id: str) -> dict[str | None, int]:
    async with await psycopg.AsyncConnection.connect(database) as conn:
        cursor = await conn.execute(
            "SELECT value, events FROM breakdown_rollups WHERE project_id = %s"
            " AND key = 'plan' AND granularity = 'day'",
            (project_id,),
        )
        return {value: int(events) for value, events in await cursor.fetchall()}


async def test_cli_deploy_is_enforced_by_the_gateway_and_rolled_up_by_the_worker(
    app_url: str,
    services: Services,
    pg_schema: str,
    kafka_topic: str,
    events_topic: str,
    redis_prefix: str,
    unique_group: str,
    tmp_path: Path,
) -> None:
    config_dir = tmp_path / "cli"
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:
        await browser_signup(browser, app_url, "ops@shop.example", tmp_path / "mail")
        response = await browser.post(f"{app_url}/api/cli/tokens", headers={"Origin": app_url})
        one_time = (await response.json())["token"]
    assert (await cli(config_dir, app_url, "login", "--token", one_time))[0] == 0
    code, out = await cli(config_dir, app_url, "projects", "create", "shop", "--json")
    assert code == 0, out
    created = json.loads(out)
    project_id, key = created["project"]["id"], created["publicKey"]

    worker = WorkerProcess(
        {
            **services.as_env(),
            "RA_DATABASE_URL": pg_schema,
            "RA_EVENTS_TOPIC": events_topic,
            "RA_CONTROL_TOPIC": kafka_topic,
            "RA_WORKER_DEAD_LETTER_TOPIC": f"{events_topic}-dlq",
            "RA_WORKER_GROUP": unique_group,
            "RA_REDIS_PREFIX": redis_prefix,
            "RA_WORKER_DATA_DIR": str(tmp_path / "faust"),
            "RA_WORKER_BATCH_SECONDS": "0.3",
        },
        service_log("worker"),
        services.repo_root,
    )
    gateway: TestClient = await start_gateway(
        GatewaySettings(
            database_url=pg_schema,
            redis_url=services.redis_url,
            kafka_bootstrap=services.kafka_bootstrap,
            events_topic=events_topic,
            control_topic=kafka_topic,
            redis_prefix=redis_prefix,
        )
    )
    worker.start()
    try:

        async def send(body: Any, origin: str | None = None) -> int:
            headers = {"X-API-Key": key, **({"Origin": origin} if origin else {})}
            response = await gateway.post("/", json=body, headers=headers)
            return response.status

        assert await send({**signup(0, "pro"), "event": "checkout"}) == 200  # lenient so far

        config_file = tmp_path / "realanalytics.yaml"
        config_file.write_text(YAML)
        code, out = await cli(
            config_dir, app_url, "deploy", str(config_file), "--secret-key", created["secretKey"]
        )
        assert code == 0, out

        async def plan_enforced() -> bool:
            return await send({**signup(1, "pro"), "event": "checkout"}) == 400

        assert await eventually(plan_enforced), "the gateway did not apply the tracking plan"
        assert await send(signup(2, "pro"), origin="https://evil.example") == 403
        assert await send(signup(3, "pro"), origin="https://shop.example") == 200

        async def plan_rolled_up() -> bool:
            return "pro" in await plan_counts(pg_schema, project_id)

        assert await eventually(plan_rolled_up, 60), worker.log.read_text()[-3000:]
        # From now on every event is rolled up by its plan, exactly once.
        before = await plan_counts(pg_schema, project_id)
        assert await send([signup(n, "free") for n in range(10, 13)]) == 200

        async def free_counted() -> bool:
            return (await plan_counts(pg_schema, project_id)).get("free") == 3

        assert await eventually(free_counted), await plan_counts(pg_schema, project_id)
        assert (await plan_counts(pg_schema, project_id))["pro"] == before["pro"]
    finally:
        worker.stop()
        await gateway.close()
