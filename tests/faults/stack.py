"""The stack under test as real processes on the suite's servers: one gateway, one or two
stream workers (one consumer group) and the App API (control plane, query API and
dashboard on one origin). Every process logs into the run's log directory, so the
end-of-run scan for keys and payloads reads them too."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from contracts.sessions import ACCESS_TOKEN_PREFIX, new_token, token_digest
from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings as GatewaySettings
from migrations.runner import apply_migrations
from tests.faults.servers import REPO_ROOT, Servers
from tests.fixtures.services import fresh_topic, unique_suffix
from tests.integration.ingest_gateway.conftest import gateway_process, wait_healthy
from tests.integration.stream_workers.workers import WorkerProcess, free_port
from tests.support.projects import new_project
from tests.support.testlogs import service_log


class AppApi:
    """``python -m app_api`` on a free port, logging to the run's log directory."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "RA_APP_PORT": str(self.port)}
        self.log = service_log("app_api")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app_api"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(self.url, self.process, seconds=60)
        except AssertionError:
            tail = self.log.read_text()[-3000:]
            raise AssertionError(f"the App API did not start:\n{tail}") from None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Stack:
    """One fault's world: a schema, a topic, a project and the processes serving it."""

    servers: Servers
    database: str  # URL whose search_path is this stack's schema
    topic: str
    group: str
    prefix: str
    project: CreatedProject
    user: str  # a member of the project (id)
    token: str  # a CLI access token of the member: the query API's bearer
    gateway_url: str
    app: AppApi
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def logs(self) -> list[Path]:
        return [w.log for w in self.workers] + [self.app.log]


async def member_token(database: str, project_id: str) -> tuple[str, str]:
    """A user who is a member of the project and a CLI access token of theirs: it lives in
    PostgreSQL, so a Redis flush (which loses the browser sessions) does not log it out."""
    user = str(uuid.uuid4())
    token = new_token(ACCESS_TOKEN_PREFIX)
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user, f"{user}@faults.test"),
        )
        await conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'owner')",
            (project_id, user),
        )
        await conn.execute(
            "INSERT INTO cli_access_tokens (token_hash, user_id) VALUES (%s, %s)",
            (token_digest(token), user),
        )
    return user, token


def worker_env(stack_env: dict[str, str], data_dir: Path, name: str) -> dict[str, str]:
    return {
        **stack_env,
        "RA_WORKER_INSTANCE_ID": name,
        "RA_WORKER_LANE": "main",
        "RA_WORKER_DATA_DIR": str(data_dir / f"faust-{name}"),
        "RA_WORKER_BATCH_SECONDS": "0.3",
    }


@asynccontextmanager
async def running_stack(
    servers: Servers,
    data_dir: Path,
    workers: int = 1,
    worker_settings: dict[str, str] | None = None,
    gateway_settings: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """Everything a fault needs, started; stopped and dropped on the way out."""
    suffix = unique_suffix()
    topic, group, prefix = f"f-{suffix}", f"g-{suffix}", f"f:{suffix}:"
    with servers.schema() as database:
        apply_migrations(database)
        project = await new_project(database, slug="steady", plan="enterprise")
        user, token = await member_token(database, project.id)
        async with fresh_topic(servers.kafka_bootstrap, topic):
            env = {
                "RA_DATABASE_URL": database,
                "RA_REDIS_URL": servers.redis_url,
                "RA_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
                "RA_EVENTS_TOPIC": topic,
                "RA_CONTROL_TOPIC": f"{topic}-control",
                "RA_WORKER_DEAD_LETTER_TOPIC": f"{topic}-dlq",
                "RA_WORKER_GROUP": group,
                "RA_REDIS_PREFIX": prefix,
            }
            with ExitStack() as exits:
                gateway = GatewaySettings(
                    database_url=database,
                    redis_url=servers.redis_url,
                    kafka_bootstrap=servers.kafka_bootstrap,
                    events_topic=topic,
                    control_topic=f"{topic}-control",
                    redis_prefix=prefix,
                )
                # The load is the point: no rate limit, one lane for one consumer group.
                starting_gateway = gateway_process(
                    gateway,
                    RA_RATE_LIMIT="10000000",
                    RA_INGEST_OVERFLOW_EVENTS_PER_SECOND="0",
                    **(gateway_settings or {}),
                )
                app = AppApi({**env, "RA_MAIL_DIR": str(data_dir / "mail")})
                started = [
                    WorkerProcess(
                        {**worker_env(env, data_dir, f"w{n}"), **(worker_settings or {})},
                        service_log(f"worker-w{n}"),
                        REPO_ROOT,
                    )
                    for n in range(workers)
                ]
                try:
                    for worker in started:  # slowest to be ready: first
                        worker.start()
                    # Started side by side: a quarter of a fault's time was start-up.
                    gateway_url, _ = await asyncio.gather(
                        asyncio.to_thread(exits.enter_context, starting_gateway),
                        asyncio.to_thread(app.start),
                    )
                    yield Stack(
                        servers,
                        database,
                        topic,
                        group,
                        prefix,
                        project,
                        user,
                        token,
                        gateway_url,
                        app,
                        started,
                    )
                finally:
                    # A fault that failed half-way must not leave a server down for the
                    # clean-up below or for the next fault.
                    await asyncio.gather(
                        asyncio.to_thread(servers.ensure_running),
                        asyncio.to_thread(app.stop),
                        *(asyncio.to_thread(w.stop) for w in started),
                    )
