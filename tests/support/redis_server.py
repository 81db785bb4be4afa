"""A Redis server of a test's own (``redis-server`` from the system, as services.sh runs it),
to stop and start mid-test without touching the shared one. It keeps an append-only file,
as the deployed Redis does, so a stop and start keeps its data."""

import subprocess
import time
from pathlib import Path

import redis

from tests.integration.stream_workers.workers import free_port


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "everysec",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits, as a clean restart does."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        self._process.wait(timeout=15)
