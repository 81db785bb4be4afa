"""Throughput, latency and memory of one ingest gateway process, against the real services.

Run from the repository root, with the services of ``scripts/services.sh start`` up and
``wrk`` installed (``apt-get install -y wrk``)::

    python -m benchmarks.ingest_gateway [--seconds 10] [--connections 64] [--threads 1]

It creates a fresh PostgreSQL schema (migrated, one "enterprise" project), a fresh
12-partition Kafka topic and a fresh Redis prefix, starts ONE ``python -m ingest_gateway``
on a free port with a huge ``RA_RATE_LIMIT``, and measures, each for ``--seconds``:

1. events/s through the gateway, 100 events per request (``wrk``, closed loop, only 200
   answers counted), and the records on the topic against 200s x 100;
2. single-event requests/s (``wrk``);
3. p50/p99 latency at half the measured batch request rate, from an open-loop paced
   generator in another process (latency counted from each request's scheduled time, so
   a stalled gateway cannot hide behind a waiting client: no coordinated omission);
4. the gateway's RSS after the load;
5. the bare aiokafka producer's ceiling on the same broker (one process, same records,
   same settings, acks awaited in chunks of 100 with many chunks in flight), and the ratio
   gateway/bare.

It prints each phase, then a summary with targets and PASS/MISS. Everything it made is
removed at the end, also on failure or Ctrl-C.
"""

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg import sql
from redis.asyncio import Redis

from contracts.events import EventRecord, encode_record, record_key
from control_plane.projects import create_project
from migrations.runner import apply_migrations

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES_ENV = REPO_ROOT / ".local" / "services.env"
BATCH_SIZE = 100
PARTITIONS = 12
HUGE_RATE_LIMIT = 1_000_000_000
TARGET_BATCH_EVENTS_PER_S = 50_000
TARGET_SINGLE_REQUESTS_PER_S = 3_000
TARGET_BARE_RATIO = 0.5
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


# ---------------------------------------------------------------- payloads


def sample_event(index: int, timestamp: str) -> dict[str, Any]:
    return {
        "event": "$pageview",
        "timestamp": timestamp,
        "distinctId": f"user-{index:04d}",
        "sessionId": f"session-{index:04d}",
        "properties": {
            "$pathname": "/pricing",
            "$referrer": "https://example.com/blog/launch",
            "plan": "pro",
            "price": 49.5,
            "experiment": "checkout-b",
        },
    }


def sample_events(count: int) -> list[dict[str, Any]]:
    timestamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    return [sample_event(i, timestamp) for i in range(count)]


def batch_body() -> bytes:
    return orjson.dumps(sample_events(BATCH_SIZE))


def single_body() -> bytes:
    return orjson.dumps(sample_events(1)[0])


def bare_records(project_id: str) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` pairs as the gateway would append for one batch body."""
    now = datetime.now(UTC)
    return [
        (
            record_key(project_id, event["distinctId"]),
            encode_record(
                EventRecord(
                    id=f"00000000-0000-7000-8000-{i:012d}",
                    project_id=project_id,
                    event=event["event"],
                    timestamp=now,
                    received_at=now,
                    distinct_id=event["distinctId"],
                    session_id=event["sessionId"],
                    properties=event["properties"],
                )
            ),
        )
        for i, event in enumerate(sample_events(BATCH_SIZE))
    ]


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


# ---------------------------------------------------------------- wrk (closed loop)

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
wrk.body = {body}

local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {{}} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local merged = {{}}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  for status, count in pairs(merged) do
    io.write(string.format("STATUS %d %d\\n", status, count))
  end
  local e = summary.errors
  io.write(string.format("SUMMARY %d %d %d %d %d %d %d %d %d\\n", summary.duration,
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    seconds: float
    requests: int
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    cpu: CpuUse

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.seconds


def lua_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def write_wrk_script(directory: Path, name: str, body: bytes, api_key: str) -> Path:
    path = directory / f"{name}.lua"
    path.write_text(_WRK_SCRIPT.format(key=api_key, body=lua_string(body.decode())))
    return path


def parse_wrk(output: str, cpu: CpuUse) -> WrkResult:
    statuses = {int(m[1]): int(m[2]) for m in re.finditer(r"^STATUS (\d+) (\d+)$", output, re.M)}
    match = re.search(r"^SUMMARY ([\d ]+)$", output, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    duration_us, requests, connect, read, write, _status, timeout, p50, p99 = (
        int(v) for v in match[1].split()
    )
    errors = {"connect": connect, "read": read, "write": write, "timeout": timeout}
    return WrkResult(duration_us / 1e6, requests, statuses, errors, p50 / 1e3, p99 / 1e3, cpu)


async def run_wrk(url: str, script: Path, seconds: int, options: Options, pid: int) -> WrkResult:
    command = [
        "wrk",
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"{url}/",
    ]
    before = cpu_snapshot(pid)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        stdout, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{stdout.decode()}")
    return parse_wrk(stdout.decode(), cpu_between(before, cpu_snapshot(pid)))


# ---------------------------------------------------------------- paced (open loop)


@dataclass(frozen=True, slots=True)
class PacedResult:
    rate: float
    scheduled: int
    latencies_ms: list[float]
    failures: int
    max_send_lag_ms: float
    cpu: CpuUse | None = None

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def timed_post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], at: float
) -> float | None:
    """Latency in ms from the scheduled time ``at`` to the full answer; None unless 200."""
    loop = asyncio.get_running_loop()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            ok = response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return None
    return (loop.time() - at) * 1000 if ok else None


async def paced_load(
    url: str, api_key: str, body: bytes, rate: float, seconds: int, warmup: float
) -> PacedResult:
    """Requests on a fixed clock, never waiting for answers before sending the next one."""
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = loop.time() + 0.1
        tasks: list[tuple[float, asyncio.Task[float | None]]] = []
        max_lag = 0.0
        for i in range(int(rate * (seconds + warmup))):
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - loop.time()))
            max_lag = max(max_lag, loop.time() - at)
            tasks.append((at, asyncio.create_task(timed_post(session, url, body, headers, at))))
        results = [(at - start, await task) for at, task in tasks]
    measured = [latency for offset, latency in results if offset >= warmup]
    latencies = [latency for latency in measured if latency is not None]
    failures = len(measured) - len(latencies)
    return PacedResult(rate, len(measured), latencies, failures, max_lag * 1000)


def paced_process(
    url: str, api_key: str, body: bytes, rate: float, seconds: int, warmup: float
) -> PacedResult:
    return asyncio.run(paced_load(url, api_key, body, rate, seconds, warmup))


# ---------------------------------------------------------------- bare producer


@dataclass(frozen=True, slots=True)
class BareResult:
    acked: int
    seconds: float
    cpu_percent: float  # of one core, the producer process's own

    @property
    def per_second(self) -> float:
        return self.acked / self.seconds


async def produce_chunks(
    producer: AIOKafkaProducer, topic: str, records: list[tuple[bytes, bytes]], until: float
) -> int:
    """Send 100, await their acks, repeat — one "request" at a time, like one connection."""
    loop = asyncio.get_running_loop()
    acked = 0
    while loop.time() < until:
        acks = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*acks)
        acked += len(acks)
    return acked


async def bare_load(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], seconds: int, concurrency: int
) -> BareResult:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        await produce_chunks(producer, topic, records, loop.time() + 1)  # metadata, warm-up
        started, cpu_started = loop.time(), time.process_time()
        chunks = (
            produce_chunks(producer, topic, records, started + seconds) for _ in range(concurrency)
        )
        acked = sum(await asyncio.gather(*chunks))
        wall = loop.time() - started
        return BareResult(acked, wall, (time.process_time() - cpu_started) / wall * 100)
    finally:
        await producer.stop()


def bare_process(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], seconds: int, concurrency: int
) -> BareResult:
    return asyncio.run(bare_load(bootstrap, topic, records, seconds, concurrency))


async def in_child_process(function: Any, *args: Any) -> Any:
    """``function(*args)`` in a fresh (spawned) Python process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


# ---------------------------------------------------------------- topic count


async def topic_record_count(bootstrap: str, topic: str) -> int:
    """Records on the (fresh) topic: the sum of its partitions' end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        offsets = await consumer.end_offsets(partitions)
        return sum(offsets.values())
    finally:
        await consumer.stop()


# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class Figures:
    batch: WrkResult | None = None
    topic_records: int = 0
    single: WrkResult | None = None
    paced: PacedResult | None = None
    rss_kib: int = 0
    hwm_kib: int = 0
    bare: BareResult | None = None


@dataclass(frozen=True, slots=True)
class Setup:
    services: Services
    options: Options
    gateway: Gateway
    api_key: str
    project_id: str
    topic: str
    scripts: Path


def print_wrk(title: str, result: WrkResult, per_request: int) -> None:
    others = {k: v for k, v in sorted(result.statuses.items()) if k != 200}
    errors = {k: v for k, v in result.socket_errors.items() if v}
    print(f"\n== {title}")
    print(
        f"   {result.requests:,} requests in {result.seconds:.1f}s; 200: {result.ok:,}; "
        f"other statuses: {others or 'none'}; socket errors: {errors or 'none'}"
    )
    print(
        f"   {result.ok_per_second:,.0f} req/s (200 only) = "
        f"{result.ok_per_second * per_request:,.0f} ev/s"
    )
    print(f"   wrk closed-loop latency p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
    print_cpu(result.cpu)


def print_cpu(cpu: CpuUse) -> None:
    print(
        f"   CPU: gateway {cpu.process_percent:.0f}% of one core; "
        f"machine {cpu.machine_percent:.0f}% of {os.cpu_count()} cores"
    )


async def measure_batch(setup: Setup, figures: Figures) -> None:
    script = write_wrk_script(setup.scripts, "batch", batch_body(), setup.api_key)
    gateway, topic, bootstrap = setup.gateway, setup.topic, setup.services.kafka_bootstrap
    await run_wrk(gateway.url, script, WARMUP_SECONDS, setup.options, gateway.pid)
    await asyncio.sleep(1)
    before = await topic_record_count(bootstrap, topic)
    figures.batch = await run_wrk(
        gateway.url, script, setup.options.seconds, setup.options, gateway.pid
    )
    await asyncio.sleep(2)  # requests in flight when wrk stopped still get appended
    figures.topic_records = await topic_record_count(bootstrap, topic) - before
    print_wrk(f"1. batches of {BATCH_SIZE} events per request", figures.batch, BATCH_SIZE)
    acked = figures.batch.ok * BATCH_SIZE
    print(
        f"   records on the topic from this phase: {figures.topic_records:,}; "
        f"200s x {BATCH_SIZE} = {acked:,} (difference {figures.topic_records - acked:+,}: "
        "requests still in flight when wrk stopped)"
    )


async def measure_single(setup: Setup, figures: Figures) -> None:
    script = write_wrk_script(setup.scripts, "single", single_body(), setup.api_key)
    gateway = setup.gateway
    figures.single = await run_wrk(
        gateway.url, script, setup.options.seconds, setup.options, gateway.pid
    )
    print_wrk("2. single-event requests", figures.single, 1)


async def measure_latency(setup: Setup, figures: Figures) -> None:
    max_rate = figures.batch.ok_per_second if figures.batch else 0.0
    rate, warmup = max(1.0, max_rate / 2), 1.0
    url, pid = f"{setup.gateway.url}/", setup.gateway.pid
    before = cpu_snapshot(pid)
    result: PacedResult = await in_child_process(
        paced_process, url, setup.api_key, batch_body(), rate, setup.options.seconds, warmup
    )
    figures.paced = replace(result, cpu=cpu_between(before, cpu_snapshot(pid)))
    print_paced(figures.paced, max_rate, warmup)


def print_paced(result: PacedResult, max_rate: float, warmup: float) -> None:
    print(
        f"\n== 3. latency, open loop at {result.rate:,.1f} req/s x {BATCH_SIZE} events "
        f"(half of the measured {max_rate:,.1f} req/s)"
    )
    print(
        f"   {result.scheduled:,} requests scheduled after {warmup:.0f}s warm-up; "
        f"not 200: {result.failures}; generator's worst send lag {result.max_send_lag_ms:.1f} ms"
    )
    print(
        f"   latency from scheduled time: p50 {result.percentile(50):.1f} ms, "
        f"p99 {result.percentile(99):.1f} ms, max {result.percentile(100):.1f} ms"
    )
    if result.cpu:
        print_cpu(result.cpu)


def measure_memory(setup: Setup, figures: Figures) -> None:
    figures.rss_kib = memory_kib(setup.gateway.pid, "VmRSS")
    figures.hwm_kib = memory_kib(setup.gateway.pid, "VmHWM")
    print(
        f"\n== 4. gateway memory after the load: VmRSS {figures.rss_kib / 1024:.1f} MiB "
        f"(peak VmHWM {figures.hwm_kib / 1024:.1f} MiB)"
    )


async def measure_bare(setup: Setup, figures: Figures) -> None:
    concurrency = setup.options.bare_concurrency
    result: BareResult = await in_child_process(
        bare_process,
        setup.services.kafka_bootstrap,
        setup.topic,
        bare_records(setup.project_id),
        setup.options.seconds,
        concurrency,
    )
    figures.bare = result
    print(
        f"\n== 5. bare aiokafka producer, one process, {concurrency} chunks of "
        f"{BATCH_SIZE} in flight"
    )
    print(
        f"   {result.acked:,} records acknowledged in {result.seconds:.1f}s = "
        f"{result.per_second:,.0f} ev/s; producer process CPU {result.cpu_percent:.0f}% of one core"
    )


# ---------------------------------------------------------------- summary


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "MISS"


def summary_rows(figures: Figures, connections: int) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    if figures.batch:
        events = figures.batch.ok_per_second * BATCH_SIZE
        rows.append(
            (
                "batch ingest (100/request)",
                f"{events:,.0f} ev/s",
                f">= {TARGET_BATCH_EVENTS_PER_S:,} ev/s",
                verdict(events, TARGET_BATCH_EVENTS_PER_S),
            )
        )
        acked = figures.batch.ok * BATCH_SIZE
        in_flight = connections * BATCH_SIZE
        matches = acked <= figures.topic_records <= acked + in_flight
        rows.append(
            (
                "topic records vs 200s x 100",
                f"{figures.topic_records:,} vs {acked:,}",
                f"within +{in_flight:,}",
                "PASS" if matches else "MISS",
            )
        )
    if figures.single:
        rate = figures.single.ok_per_second
        rows.append(
            (
                "single-event requests",
                f"{rate:,.0f} req/s",
                f">= {TARGET_SINGLE_REQUESTS_PER_S:,} req/s",
                verdict(rate, TARGET_SINGLE_REQUESTS_PER_S),
            )
        )
    if figures.paced:
        p = figures.paced
        rows.append(
            (f"latency p50 @ {p.rate:,.0f} req/s", f"{p.percentile(50):.1f} ms", "-", "info")
        )
        rows.append(
            (f"latency p99 @ {p.rate:,.0f} req/s", f"{p.percentile(99):.1f} ms", "-", "info")
        )
    if figures.rss_kib:
        rows.append(("gateway RSS after load", f"{figures.rss_kib / 1024:.1f} MiB", "-", "info"))
    if figures.bare:
        rows.append(("bare producer ceiling", f"{figures.bare.per_second:,.0f} ev/s", "-", "info"))
    if figures.bare and figures.batch:
        ratio = figures.batch.ok_per_second * BATCH_SIZE / max(figures.bare.per_second, 1e-9)
        rows.append(
            (
                "gateway / bare producer",
                f"{ratio:.2f}",
                f">= {TARGET_BARE_RATIO}",
                verdict(ratio, TARGET_BARE_RATIO),
            )
        )
    return rows


def print_summary(figures: Figures, options: Options) -> None:
    rows = [("figure", "measured", "target", "result"), *summary_rows(figures, options.connections)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(
        f"\n== summary (nproc {os.cpu_count()}, wrk -t{options.threads} "
        f"-c{options.connections}, {options.seconds}s per phase)"
    )
    for index, row in enumerate(rows):
        print("   " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("   " + "  ".join("-" * width for width in widths))


# ---------------------------------------------------------------- main


@contextlib.asynccontextmanager
async def bench_setup(services: Services, options: Options) -> AsyncIterator[Setup]:
    name = f"bench_{secrets.token_hex(4)}"
    async with contextlib.AsyncExitStack() as stack:
        scripts = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ra-bench-")))
        conninfo = await stack.enter_async_context(fresh_schema(services.database_url, name))
        topic = await stack.enter_async_context(
            fresh_topic(services.kafka_bootstrap, name.replace("_", "-"))
        )
        prefix = await stack.enter_async_context(fresh_redis_prefix(services.redis_url, f"{name}:"))
        project_id, api_key = await new_public_key(conninfo, name.replace("_", "-"))
        env = gateway_env(services, conninfo, topic, prefix, free_port())
        gateway = await stack.enter_async_context(running_gateway(env, scripts / "gateway.log"))
        print(
            f"gateway pid {gateway.pid} at {gateway.url}; schema {name}, topic {topic}, "
            f"redis prefix {prefix}"
        )
        yield Setup(services, options, gateway, api_key, project_id, topic, scripts)


async def run(options: Options) -> Figures:
    services = read_services()
    figures = Figures()
    async with bench_setup(services, options) as setup:
        try:
            await measure_batch(setup, figures)
            await measure_single(setup, figures)
            await measure_latency(setup, figures)
            measure_memory(setup, figures)
            await measure_bare(setup, figures)
        except Exception:
            print_log_tail(setup.gateway.log)
            raise
        finally:
            print_summary(figures, options)
    return figures


def print_log_tail(log: Path, lines: int = 30) -> None:
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    print("\n== gateway log (last lines)", *(f"   {line}" for line in tail), sep="\n")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(options))
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
