import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.control import ConfigDeployed, control_key, encode_control
from control_plane.projects import CreatedProject
from ingest_gateway.app import create_app
from ingest_gateway.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import wait_for_leaders
from tests.integration.ingest_gateway.pipeline import query_api  # noqa: F401 - a fixture
from tests.support.projects import new_project
from tests.support.testlogs import service_log


@pytest.fixture
def database(pg_schema: str) -> str:
    apply_migrations(pg_schema)
    return pg_schema


@pytest.fixture
async def project(database: str) -> CreatedProject:
    return await new_project(database)


@pytest.fixture
def settings(services, database: str, kafka_topic: str, redis_prefix: str) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        redis_prefix=redis_prefix,
        key_cache_ttl_seconds=0.2,
        append_timeout_seconds=3.0,
    )


async def start_gateway(settings: Settings) -> TestClient:
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server(auto_decompress=False)  # as ingest_gateway.__main__ runs it
    client = TestClient(server)
    await client.start_server()
    return client


@contextlib.contextmanager
def gateway_process(settings: Settings, log: Path | None = None, **env: str) -> Iterator[str]:
    """A real ``python -m ingest_gateway`` on a free port, with extra RA_* ``env``; its URL.
    Its output goes to ``log`` when given, else to a file of the run's log directory."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    environment = {
        **os.environ,
        "RA_DATABASE_URL": settings.database_url,
        "RA_REDIS_URL": settings.redis_url,
        "RA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "RA_EVENTS_TOPIC": settings.events_topic,
        "RA_CONTROL_TOPIC": settings.control_topic,
        "RA_REDIS_PREFIX": settings.redis_prefix,
        "RA_INGEST_PORT": str(port),
        **env,
    }
    output = (log or service_log("ingest_gateway")).open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest_gateway"],
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
        assert proc.poll() is None, f"the gateway exited with {proc.returncode}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        output.close()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"gateway at {url} did not start")


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[TestClient]:
    client = await start_gateway(settings)
    yield client
    await client.close()


@pytest.fixture
def settings_with(settings: Settings):  # type: ignore[no-untyped-def]
    return lambda **changes: replace(settings, **changes)


@pytest.fixture
async def control_topic(services: Any, kafka_topic: str) -> AsyncIterator[str]:
    topic = f"{kafka_topic}-control"
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
        await wait_for_leaders(admin, topic, 1)
        yield topic
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def deploy(bootstrap: str, topic: str, message: ConfigDeployed) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, encode_control(message), key=control_key(message.project_id)
        )
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.1)
