"""Several processes of each HTTP service on one port (SO_REUSEPORT: RA_INGEST_REUSE_PORT,
RA_APP_REUSE_PORT, RA_QUERY_REUSE_PORT), the kernel spreading connections over them
(issue 16): two gateways both serve and hold a key to one rate limit; a session made
through one App API process is accepted by every App API and query API process, and a
logout through one ends it everywhere. Without the setting, a second copy on a busy port
fails instead of joining.

Which process served a connection is read from the operating system: the sockets each
process holds (``/proc/<pid>/fd``) against the TCP table (``/proc/net/tcp``).
"""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from control_plane.projects import CreatedProject
from migrations.runner import apply_migrations
from tests.fixtures.services import Services
from tests.integration.control_plane.conftest import PASSWORD, mailed_code
from tests.integration.ingest_gateway.test_ingest import event
from tests.integration.ingest_gateway.test_limits import wait_for_fresh_window
from tests.integration.stream_workers.workers import free_port
from tests.support.projects import new_project
from tests.support.testlogs import service_log

pytestmark = pytest.mark.integration

LISTEN, ESTABLISHED = "0A", "01"  # socket states in /proc/net/tcp
RATE_LIMIT = 40  # requests a key may make in a window, over every gateway
CONNECTIONS = 40  # concurrent requests, each on a connection of its own


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets whose local port is ``port``, in ``state``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(fields[9])
    return inodes


def held(pid: int, port: int, state: str) -> int:
    """How many sockets on ``port`` in ``state`` the process ``pid`` holds."""
    return len(socket_inodes(pid) & sockets_on(port, state))


@contextlib.contextmanager
def processes(
    module: str, count: int, env: dict[str, str], repo_root: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` copies of ``python -m module`` with ``env``, each logging to the run's logs."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            with service_log(module).open("wb") as log:  # the child keeps its own descriptor
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", module],
                        env={**os.environ, **env},
                        cwd=repo_root,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=20)


def wait_listening(started: list[subprocess.Popen[bytes]], port: int, seconds: float = 60) -> None:
    """Every process listens on ``port`` (aiohttp binds once its app has started up)."""
    deadline = time.monotonic() + seconds
    while not all(held(p.pid, port, LISTEN) for p in started):
        for process in started:
            assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        assert time.monotonic() < deadline, f"not every process listens on {port}"
        time.sleep(0.1)


def serving(started: list[subprocess.Popen[bytes]], port: int) -> list[int]:
    """Connections on ``port`` each process holds open (the client keeps them alive)."""
    return [held(p.pid, port, ESTABLISHED) for p in started]


@pytest.fixture
def database(pg_schema: str) -> str:
    apply_migrations(pg_schema)
    return pg_schema


def gateway_env(
    services: Services, database: str, topic: str, prefix: str, port: int
) -> dict[str, str]:
    return {
        **services.as_env(),
        "RA_DATABASE_URL": database,
        "RA_EVENTS_TOPIC": topic,
        "RA_CONTROL_TOPIC": f"{topic}-control",
        "RA_REDIS_PREFIX": prefix,
        "RA_INGEST_PORT": str(port),
        "RA_INGEST_OVERFLOW_EVENTS_PER_SECOND": "0",
        "RA_RATE_LIMIT": str(RATE_LIMIT),
    }


async def test_two_gateways_on_one_port_both_serve_and_hold_a_key_to_one_rate_limit(
    services: Services, database: str, kafka_topic: str, redis_prefix: str
) -> None:
    project: CreatedProject = await new_project(database, "shared", "pro")
    port = free_port()
    env = {
        **gateway_env(services, database, kafka_topic, redis_prefix, port),
        "RA_INGEST_REUSE_PORT": "true",
    }
    with processes("ingest_gateway", 2, env, services.repo_root) as gateways:
        wait_listening(gateways, port)
        await wait_for_fresh_window(services.redis_url, needed=20)
        url = f"http://127.0.0.1:{port}/"
        headers = {"X-API-Key": project.public_key}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:

            async def send(n: int) -> int:
                async with client.post(url, json=[event(n)], headers=headers) as response:
                    return response.status

            first = await asyncio.gather(*(send(n) for n in range(CONNECTIONS)))
            per_process = serving(gateways, port)
            second = await asyncio.gather(*(send(n) for n in range(CONNECTIONS, 2 * CONNECTIONS)))
    print("connections per gateway process:", per_process)
    assert all(count > 0 for count in per_process), per_process
    assert Counter(first) == {200: RATE_LIMIT}
    assert Counter(second) == {429: CONNECTIONS}  # the limit held across both processes


async def test_without_reuse_port_a_second_gateway_on_a_busy_port_fails(
    services: Services, database: str, kafka_topic: str, redis_prefix: str
) -> None:
    port = free_port()
    env = gateway_env(services, database, kafka_topic, redis_prefix, port)
    with processes("ingest_gateway", 1, env, services.repo_root) as first:
        wait_listening(first, port)
        with processes("ingest_gateway", 1, env, services.repo_root) as second:
            assert second[0].wait(timeout=60) != 0
        assert first[0].poll() is None


async def test_a_session_made_through_one_app_api_process_is_accepted_by_every_process(
    services: Services, database: str, kafka_topic: str, redis_prefix: str, tmp_path: Path
) -> None:
    app_port, query_port = free_port(), free_port()
    app_url, query_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{query_port}"
    env = {
        **services.as_env(),
        "RA_DATABASE_URL": database,
        "RA_CONTROL_TOPIC": kafka_topic,
        "RA_REDIS_PREFIX": redis_prefix,
        "RA_MAIL_DIR": str(tmp_path / "mail"),
        "RA_APP_PORT": str(app_port),
        "RA_APP_ORIGINS": app_url,
        "RA_APP_REUSE_PORT": "true",
        "RA_QUERY_PORT": str(query_port),
        "RA_QUERY_REUSE_PORT": "true",
    }
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    with (
        processes("app_api", 2, env, services.repo_root) as apps,
        processes("query_api", 2, env, services.repo_root) as queries,
    ):
        wait_listening(apps, app_port)
        wait_listening(queries, query_port)
        async with aiohttp.ClientSession() as browser:  # one connection: one process
            answer = await browser.post(
                f"{app_url}/api/auth/signup", json={"email": email, "password": PASSWORD}
            )
            assert answer.status == 202, await answer.text()
            code = await mailed_code(tmp_path / "mail", email, "ra_confirm_")
            answer = await browser.post(f"{app_url}/api/auth/confirm", json={"token": code})
            assert answer.status == 200, await answer.text()
            cookie = {"ra_session": answer.cookies["ra_session"].value}
            answer = await browser.post(
                f"{app_url}/api/projects",
                json={"name": "Shared", "slug": "shared"},
                cookies=cookie,
                headers={"Origin": app_url},
            )
            assert answer.status == 201, await answer.text()
        query = {
            "type": "metric",
            "projectId": "shared",
            "event": "$pageview",
            "dateRange": {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z"},
        }

        async def everywhere() -> tuple[Counter[int], list[int], list[int]]:
            """The session's requests on many connections at once, half to each port
            (half of a process's query queue at most); the statuses, and the connections
            each process of each port held meanwhile."""
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector, cookies=cookie) as client:

                async def one(n: int) -> int:
                    if n % 2:
                        answer = await client.post(f"{query_url}/api/query", json=query)
                    else:
                        answer = await client.get(f"{app_url}/api/projects")
                    async with answer:
                        return answer.status

                statuses = Counter(await asyncio.gather(*(one(n) for n in range(CONNECTIONS))))
                return statuses, serving(apps, app_port), serving(queries, query_port)

        statuses, by_app, by_query = await everywhere()
        print("connections per App API process:", by_app, "per query API process:", by_query)
        assert all(count > 0 for count in by_app + by_query), (by_app, by_query)
        assert statuses == {200: CONNECTIONS}
        async with aiohttp.ClientSession(cookies=cookie) as browser:
            answer = await browser.post(f"{app_url}/api/auth/logout", headers={"Origin": app_url})
            assert answer.status == 200, await answer.text()
        statuses, by_app, by_query = await everywhere()
        assert all(count > 0 for count in by_app + by_query), (by_app, by_query)
        assert statuses == {401: CONNECTIONS}
