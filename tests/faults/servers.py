"""The fault suite's own PostgreSQL, Redis and Kafka: a server set of its own under
``.local/faults`` (``scripts/services.sh`` with ``RA_STATE_DIR``), so that stopping,
killing or flushing one never disturbs another test session or a developer's stack."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from tests.fixtures.services import read_env_file, unique_suffix

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".local" / "faults"
SCRIPT = REPO_ROOT / "scripts" / "services.sh"


def accepting(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), 1):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Servers:
    """Where the suite's servers listen, and how to take each one away and back."""

    database_url: str
    redis_url: str
    kafka_bootstrap: str
    state_dir: Path

    @classmethod
    def start(cls, state_dir: Path = STATE_DIR) -> "Servers":
        """Start (or reuse) the set; its addresses."""
        script("start", state_dir=state_dir)
        env = read_env_file(state_dir / "services.env")
        return cls(
            env["RA_DATABASE_URL"], env["RA_REDIS_URL"], env["RA_KAFKA_BOOTSTRAP"], state_dir
        )

    @property
    def postgres_address(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.database_url)
        return f"{info['host']}:{info['port']}"

    @property
    def redis_address(self) -> str:
        return self.redis_url.removeprefix("redis://").split("/", 1)[0]

    def stop(self, service: str) -> None:
        """A clean stop (SIGTERM, or pg_ctl's fast shutdown), as an operator's restart."""
        script("stop", service, state_dir=self.state_dir)

    def restart(self, service: str) -> None:
        script("start", service, state_dir=self.state_dir)

    def kill_kafka(self) -> None:
        """``kill -9`` the broker: no clean shutdown, as a crash or an OOM kill."""
        pid = int((self.state_dir / "kafka" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"broker pid {pid} survived SIGKILL")

    def flush_redis(self) -> None:
        with redis.Redis.from_url(self.redis_url) as client:
            client.flushall()

    def ensure_running(self) -> None:
        """Every server up again (idempotent): a fault that failed half-way leaves none down
        for the next test."""
        script("start", state_dir=self.state_dir)

    @contextmanager
    def schema(self) -> Iterator[str]:
        """A connection URL whose search_path is a fresh schema, dropped afterwards."""
        name = f"f_{unique_suffix()}"
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")  # generated name, not user input
        yield f"{self.database_url}?options=-csearch_path%3D{name}"
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def script(*args: str, state_dir: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "RA_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"services.sh {' '.join(args)} failed:\n{result.stderr}")
