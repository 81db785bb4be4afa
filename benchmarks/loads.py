"""Benchmark loads: request bodies, wrk (closed loop), a paced open-loop generator, the
bare producers (aiokafka's, and librdkafka's as the gateway drives it), and counting what
reached the topic."""

import asyncio
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.stack import (
    BATCH_SIZE,
    PARTITIONS,
    CpuUse,
    Options,
    cpu_between,
    cpu_snapshot,
)
from contracts.events import REQUEST_ID_HEADER, EventRecord, encode_record, record_key
from ingest_gateway.kafka_client import PolledProducer, RequestDelivery, producer_config

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


# ---------------------------------------------------------------- wrk (closed loop)

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.path = "{path}"
wrk.headers["Content-Type"] = "application/json"
{key_header}
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


def write_wrk_script(
    directory: Path, name: str, body: bytes, api_key: str | None, path: str = "/"
) -> Path:
    """wrk's script POSTing ``body`` to ``path``, with ``api_key`` as X-API-Key (None: the
    body carries its key, as a drop-in format's does)."""
    key_header = f'wrk.headers["X-API-Key"] = "{api_key}"' if api_key else ""
    script = directory / f"{name}.lua"
    script.write_text(
        _WRK_SCRIPT.format(path=path, key_header=key_header, body=lua_string(body.decode()))
    )
    return script


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


def confluent_bare_process(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], seconds: int, concurrency: int
) -> BareResult:
    """The librdkafka ceiling: the gateway's own producer (``ingest_gateway.kafka_client``,
    same settings, a poll thread, one future per chunk of 100, a request-id header on every
    record) with nothing of the gateway around it."""
    return asyncio.run(_confluent_bare(bootstrap, topic, records, seconds, concurrency))


async def _confluent_bare(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], seconds: int, concurrency: int
) -> BareResult:
    producer = PolledProducer(producer_config(bootstrap, 10.0, 5), lambda error: None)
    loop = asyncio.get_running_loop()
    headers: list[tuple[str, str | bytes | None]] = [(REQUEST_ID_HEADER, b"bench-request-id")]

    async def chunks(until: float) -> int:
        acked = 0
        while loop.time() < until:
            future: asyncio.Future[str | None] = loop.create_future()
            delivery = RequestDelivery(loop, future, len(records))
            for key, value in records:
                producer.produce(topic, value, key, on_delivery=delivery, headers=headers)
            failure = await future
            if failure is not None:
                raise RuntimeError(f"bare librdkafka producer: {failure}")
            acked += len(records)
        return acked

    try:
        await chunks(loop.time() + 1)  # metadata, warm-up
        started, cpu_started = loop.time(), time.process_time()
        acked = sum(await asyncio.gather(*(chunks(started + seconds) for _ in range(concurrency))))
        wall = loop.time() - started
        return BareResult(acked, wall, (time.process_time() - cpu_started) / wall * 100)
    finally:
        await asyncio.to_thread(producer.close, 10.0)


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
