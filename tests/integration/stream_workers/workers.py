"""Worker processes and load for the process-level tests: start, SIGKILL, wait, produce."""

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import psycopg
from aiokafka import AIOKafkaProducer

from contracts.events import EventRecord, encode_record, record_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WorkerProcess:
    """``python -m stream_workers worker`` in a session of its own, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path, repo_root: Path) -> None:
        self.env = {**os.environ, **env, "RA_WORKER_PORT": str(free_port())}
        self.log = log
        self.repo_root = repo_root
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stream_workers", "worker"],
                cwd=self.repo_root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def port(self) -> int:
        return int(self.env["RA_WORKER_PORT"])


async def produce(bootstrap: str, topic: str, records: Sequence[EventRecord]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending = []
        for r in records:
            key = record_key(r.project_id, r.distinct_id)
            pending.append(await producer.send(topic, encode_record(r), key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# Records past which a consumer group's workers have committed (sum of next offsets).
APPLIED = "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer = %s"


def json_lines(log: str) -> list[dict]:
    """The JSON log lines a worker wrote (structlog's renderer), other output skipped."""
    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            try:
                lines.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return lines


def applied_offsets(conninfo: str, consumer: str) -> int:
    """``APPLIED`` for ``consumer``, on a connection of its own."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(APPLIED, (consumer,)).fetchone()
    return int(row[0]) if row else 0


async def wait_until(
    check: Callable[[], bool], timeout: float, what: str, logs: Sequence[Path] = ()
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text()[-3000:] for p in logs if p.exists())
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tails}")
        await asyncio.sleep(0.2)


async def kill_then_finish(
    worker: WorkerProcess,
    database: str,
    group: str,
    total: int,
    rng: random.Random,
    longest_pause: float,
    kills: int = 3,
) -> None:
    """``kill -9`` the worker ``kills`` times, each after it made progress and a random
    pause, then let it apply all ``total`` records; it is stopped at the end."""
    try:
        for _ in range(kills):
            before = applied_offsets(database, group)
            worker.start()
            await wait_until(
                lambda: applied_offsets(database, group) > before, 60, "progress", [worker.log]
            )
            await asyncio.sleep(rng.uniform(0.2, longest_pause))
            worker.kill()
        assert applied_offsets(database, group) < total, "killed too late"
        worker.start()
        await wait_until(
            lambda: applied_offsets(database, group) == total, 120, "the whole load", [worker.log]
        )
    finally:
        worker.stop()


def applied_total(port: int) -> float:
    """``worker_events_applied_total`` scraped from a worker's /metrics."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0  # not listening yet
    for line in text.splitlines():
        if line.startswith("worker_events_applied_total "):
            return float(line.split()[1])
    return 0.0
