"""Benchmark plumbing: the local services, fresh per-run resources, the gateway as a
process of its own, and /proc readings of CPU and memory."""

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import psycopg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg import sql
from redis.asyncio import Redis

from control_plane.projects import create_project
from migrations.runner import apply_migrations

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES_ENV = REPO_ROOT / ".local" / "services.env"
BATCH_SIZE = 100
PARTITIONS = 12
HUGE_RATE_LIMIT = 1_000_000_000
WARMUP_SECONDS = 2
READY_TIMEOUT_SECONDS = 30.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
GATEWAY_COMMAND: tuple[str, ...] = (sys.executable, "-m", "ingest_gateway")


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Options:
    seconds: int
    connections: int
    threads: int
    bare_concurrency: int


@dataclass(frozen=True, slots=True)
class Services:
    database_url: str
    redis_url: str
    kafka_bootstrap: str


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_gateway")
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--bare-concurrency", type=int, default=64, help="chunks of 100 in flight (bare producer)"
    )
    args = parser.parse_args(argv)
    return Options(args.seconds, args.connections, args.threads, args.bare_concurrency)


def read_services(path: Path = SERVICES_ENV) -> Services:
    """The services' URLs: the environment first, then ``.local/services.env``."""
    values: dict[str, str] = {}
    if path.exists():
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        values = {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}
    values.update({k: v for k, v in os.environ.items() if k.startswith("RA_")})
    return Services(values["RA_DATABASE_URL"], values["RA_REDIS_URL"], values["RA_KAFKA_BOOTSTRAP"])


def with_search_path(database_url: str, schema: str) -> str:
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------- fresh resources


@contextlib.asynccontextmanager
async def fresh_schema(database_url: str, schema: str) -> AsyncIterator[str]:
    """A migrated schema; yields a conninfo whose search_path is that schema."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        url = with_search_path(database_url, schema)
        await asyncio.to_thread(apply_migrations, url)
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            await conn.execute(drop)


@contextlib.asynccontextmanager
async def fresh_topic(bootstrap: str, topic: str) -> AsyncIterator[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        try:
            yield topic
        finally:
            await admin.delete_topics([topic])
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def fresh_redis_prefix(redis_url: str, prefix: str) -> AsyncIterator[str]:
    redis = Redis.from_url(redis_url)
    try:
        yield prefix
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def new_public_key(conninfo: str, slug: str) -> tuple[str, str]:
    """``(project id, public key)`` of a new enterprise project."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        project = await create_project(conn, slug, "Benchmark", "enterprise")
    return project.id, project.public_key


# ---------------------------------------------------------------- the gateway process


@dataclass(frozen=True, slots=True)
class Gateway:
    pid: int
    url: str
    log: Path


def gateway_env(
    services: Services, conninfo: str, topic: str, prefix: str, port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "RA_DATABASE_URL": conninfo,
        "RA_REDIS_URL": services.redis_url,
        "RA_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "RA_EVENTS_TOPIC": topic,
        # A hot project's lane is the same topic: the gateway still meters every project
        # (its cost is in the figures), and every record lands on the topic counted.
        "RA_OVERFLOW_TOPIC": topic,
        "RA_INGEST_HOST": "127.0.0.1",
        "RA_INGEST_PORT": str(port),
        "RA_RATE_LIMIT": str(HUGE_RATE_LIMIT),
        "RA_REDIS_PREFIX": prefix,
    }


@contextlib.asynccontextmanager
async def running_gateway(env: dict[str, str], log: Path) -> AsyncIterator[Gateway]:
    """``python -m ingest_gateway`` in its own session (Ctrl-C reaches only us; we stop it)."""
    url = f"http://127.0.0.1:{env['RA_INGEST_PORT']}"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *GATEWAY_COMMAND,
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await wait_ready(url, process, log)
        yield Gateway(process.pid, url, log)
    finally:
        await stop_process(process)


async def wait_ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
    raise RuntimeError(f"gateway not ready within {READY_TIMEOUT_SECONDS:.0f}s; log:\n{tail}")


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


# ---------------------------------------------------------------- /proc readings


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    at: float
    process_ticks: int
    busy_ticks: int
    total_ticks: int


@dataclass(frozen=True, slots=True)
class CpuUse:
    process_percent: float  # of one core
    machine_percent: float  # of all cores (100% = every core busy)


def cpu_snapshot(pid: int) -> CpuSnapshot:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    machine = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = machine[3] + machine[4]
    total = sum(machine[:8])
    return CpuSnapshot(time.monotonic(), int(fields[11]) + int(fields[12]), total - idle, total)


def cpu_between(before: CpuSnapshot, after: CpuSnapshot) -> CpuUse:
    wall = max(after.at - before.at, 1e-9)
    process = (after.process_ticks - before.process_ticks) / CLK_TCK / wall * 100
    total = max(after.total_ticks - before.total_ticks, 1)
    return CpuUse(process, (after.busy_ticks - before.busy_ticks) / total * 100)


def memory_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")
