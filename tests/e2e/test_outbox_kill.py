"""SIGKILL the App API (which runs the outbox relay) after it published a deploy and before
it marked it; a new App API publishes nothing twice and goes on with later deploys.

The moment is made deterministic with a row lock: the test locks the outbox row, so the
relay publishes the record and then blocks on its ``UPDATE``; the test sees the record on
the topic and kills the process right there.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import psycopg
import pytest

from contracts.config import load_config
from control_plane.deploys import deploy_config
from migrations.runner import apply_migrations
from tests.fixtures.services import Services
from tests.support.kafka import read_topic
from tests.support.projects import new_project
from tests.support.testlogs import service_log

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def start_app(
    services: Services, pg_schema: str, kafka_topic: str, redis_prefix: str
) -> Iterator[object]:
    apply_migrations(pg_schema)
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        port = free_port()
        env = {
            **os.environ,
            **services.as_env(),
            "RA_DATABASE_URL": pg_schema,
            "RA_CONTROL_TOPIC": kafka_topic,
            "RA_REDIS_PREFIX": redis_prefix,
            "RA_APP_PORT": str(port),
            "RA_OUTBOX_POLL_SECONDS": "0.1",
        }
        log = service_log(f"app_api-{len(processes)}").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "app_api"],
            env=env,
            cwd=services.repo_root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own descriptor
        processes.append(process)
        for _ in range(300):  # 30 s: a loaded CI machine starts Python slowly
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    return process
            except OSError:
                assert process.poll() is None, "the App API exited"
                time.sleep(0.1)
        pytest.fail("the App API did not become healthy")

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


async def unpublished(database: str) -> int:
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM control_outbox WHERE published_at IS NULL"
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def blocked_backend(conn: psycopg.AsyncConnection) -> int:
    """The backend waiting on ``conn``'s row lock: the relay's ``UPDATE`` marking the entry."""
    for _ in range(200):
        cursor = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))"
        )
        row = await cursor.fetchone()
        if row is not None:
            return int(row[0])
        await asyncio.sleep(0.05)
    pytest.fail("the relay never tried to mark the entry")


async def test_sigkill_between_publish_and_mark(
    start_app, services: Services, pg_schema: str, kafka_topic: str
) -> None:  # type: ignore[no-untyped-def]
    project = await new_project(pg_schema, "killed")
    async with await psycopg.AsyncConnection.connect(pg_schema) as holder:
        async with await psycopg.AsyncConnection.connect(pg_schema, autocommit=True) as conn:
            await deploy_config(conn, project.id, load_config({"retentionDays": 7}), None)
        # Lock the entry: the relay can publish it but cannot mark it.
        await holder.execute("SELECT id FROM control_outbox FOR UPDATE")

        first = await asyncio.to_thread(start_app)
        # A loaded machine may take a while to start the relay: wait for the record first.
        records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=1, timeout=60)
        assert [r["version"] for r in records] == [1]
        marking = await blocked_backend(holder)  # published, now waiting to mark
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
        # The UPDATE already sent would still run once the lock goes (PostgreSQL notices a
        # dead client only when it next talks to it); end its backend too, so the state is
        # exactly "published, never marked".
        await holder.execute("SELECT pg_terminate_backend(%s)", (marking,))
        await holder.rollback()

    assert await unpublished(pg_schema) == 1
    async with await psycopg.AsyncConnection.connect(pg_schema, autocommit=True) as conn:
        await deploy_config(conn, project.id, load_config({"retentionDays": 14}), None)

    await asyncio.to_thread(start_app)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while await unpublished(pg_schema) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert await unpublished(pg_schema) == 0

    records = await read_topic(services.kafka_bootstrap, kafka_topic, timeout=2.0)
    assert [(r["_key"], r["version"]) for r in records] == [(project.id, 1), (project.id, 2)]
