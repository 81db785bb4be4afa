"""Raw export: events/s and peak memory of ``realanalytics export`` through the real App API,
against a bare ``COPY (SELECT …) TO STDOUT`` of the same rows.

Run from the repository root with the services of ``scripts/services.sh start`` up::

    python -m benchmarks.export [--events 5000000] [--users 100000] [--days 30]
                                [--formats parquet,jsonl] [--keep|--reuse]

It loads ``--events`` raw events of one project into a fresh migrated schema
(``benchmarks.query_load``'s bulk load: generated in the server, in arrival order), starts
ONE ``python -m app_api`` on a free port, and for each format runs the CLI as a user
would (``python -m control_plane.cli export --format F``, a CLI access token of the
project's owner) over the whole range, then prints:

1. events/s end to end (the command's wall time, the file complete and renamed);
2. the CLI process's peak RSS (``ru_maxrss`` of the child) and its CPU seconds;
3. the App API process's RSS before the export and its peak after (``VmHWM``), and its
   CPU seconds during the export;
4. the ceiling: a bare ``COPY (SELECT <the export's columns> …) TO STDOUT`` of the same
   rows read by psycopg and thrown away, and export ÷ ceiling.

Goal (issue 17): 5M events under 300 MB RSS. ``--keep`` leaves the schema for a rerun
(``--reuse`` then skips loading; pass the same ``--events``/``--days``).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from benchmarks.query_load import START, create_schema, load_raw, schema_url, step
from contracts.sessions import new_token, token_digest
from control_plane.cli.client import Credentials, save_credentials
from control_plane.event_rows import COLUMNS
from control_plane.settings import load_settings

SCHEMA = "bench_export"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (nproc {os.cpu_count()})"


def owner_token(url: str) -> str:
    """A CLI access token of a new user who owns the ``bench`` project."""
    user, token = str(uuid.uuid4()), new_token("ra_cli_")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user, f"{user}@bench.test"),
        )
        conn.execute(
            "INSERT INTO project_members (project_id, user_id, role)"
            " SELECT id, %s, 'owner' FROM projects WHERE slug = 'bench'",
            (user,),
        )
        conn.execute(
            "INSERT INTO cli_access_tokens (token_hash, user_id) VALUES (%s, %s)",
            (token_digest(token), user),
        )
    return token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure in bytes (``VmRSS``, ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_app(url: str, port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RA_DATABASE_URL": url,
        "RA_APP_HOST": "127.0.0.1",
        "RA_APP_PORT": str(port),
        "RA_OUTBOX_RELAY": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app_api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the App API did not start")


def export(
    app: subprocess.Popen[bytes], port: int, config: Path, fmt: str, days: int, out: Path
) -> tuple[float, int, float]:
    """Run the CLI's export; (seconds, its peak RSS in bytes, its CPU seconds)."""
    end = START + timedelta(days=days + 1)
    command = [
        sys.executable, "-m", "control_plane.cli", "--url", f"http://127.0.0.1:{port}",
        "export", "--project", "bench", "--from", START.isoformat(), "--to", end.isoformat(),
        "--format", fmt, str(out),
    ]  # fmt: skip
    env = {**os.environ, "RA_CLI_CONFIG_DIR": str(config)}
    log = out.with_suffix(".log")
    with log.open("wb") as output_file:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=output_file, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    output = log.read_text()
    if status != 0:
        raise RuntimeError(f"export failed ({status}): {output[-2000:]}")
    print(f"  {output.strip().splitlines()[-1]}", flush=True)
    return seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def copy_ceiling(url: str, days: int) -> tuple[float, int]:
    """A bare COPY of the export's rows, read and thrown away; (seconds, bytes)."""
    end = START + timedelta(days=days + 1)
    query = sql.SQL(
        "COPY (SELECT {} FROM events WHERE project_id = (SELECT id FROM projects"
        " WHERE slug = 'bench') AND ts >= {} AND ts < {}) TO STDOUT"
    ).format(sql.SQL(COLUMNS), sql.Literal(START), sql.Literal(end))
    size = 0
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cursor, cursor.copy(query) as copy:
        for chunk in copy:
            size += len(chunk)
    return time.perf_counter() - started, size


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--formats", default="parquet,jsonl", help="comma-separated")
    parser.add_argument("--keep", action="store_true", help="leave the schema for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a kept schema")
    args = parser.parse_args()
    base = load_settings()
    url = schema_url(base.database_url, SCHEMA)
    try:
        if not args.reuse:
            print(f"loading {args.events:,} events", flush=True)
            project = create_schema(url, base.database_url, SCHEMA, args.days)
            with psycopg.connect(url, autocommit=True) as conn:
                load_raw(conn, project, args.events, args.users, args.days, args.events)
                step("analyze", lambda: conn.execute("ANALYZE events"))
        with tempfile.TemporaryDirectory(prefix="ra-export-") as tmp:
            measure(url, Path(tmp), args.events, args.days, args.formats.split(","))
    finally:
        if not args.keep:
            with psycopg.connect(base.database_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def measure(url: str, tmp: Path, events: int, days: int, formats: list[str]) -> None:
    port = free_port()
    os.environ["RA_CLI_CONFIG_DIR"] = str(tmp / "cli")
    save_credentials(Credentials(f"http://127.0.0.1:{port}", owner_token(url)))
    with (tmp / "app.log").open("wb") as log:
        app = start_app(url, port, log)
        try:
            for fmt in formats:
                print(load_average(), flush=True)
                out = tmp / f"export.{fmt}"
                rss_before, cpu_before = proc_status(app.pid, "VmRSS"), cpu_seconds(app.pid)
                seconds, client_rss, client_cpu = export(app, port, tmp / "cli", fmt, days, out)
                server_cpu = cpu_seconds(app.pid) - cpu_before
                server_peak = proc_status(app.pid, "VmHWM")
                rows = pq.ParquetFile(out).metadata.num_rows if fmt == "parquet" else None
                rows = rows if rows is not None else sum(1 for _ in out.open("rb"))
                assert rows == events, (rows, events)
                print(
                    f"{fmt:<8} {events:,} events in {seconds:.1f} s = {events / seconds:,.0f} ev/s"
                    f"   file {mb(out.stat().st_size)}\n"
                    f"  CLI: peak RSS {mb(client_rss)}, CPU {client_cpu:.1f} s"
                    f" ({client_cpu / seconds:.0%} of a core)\n"
                    f"  App API: RSS {mb(rss_before)} before, peak {mb(server_peak)},"
                    f" CPU {server_cpu:.1f} s ({server_cpu / seconds:.0%} of a core)",
                    flush=True,
                )
                out.unlink()
                ceiling, size = copy_ceiling(url, days)
                print(
                    f"  ceiling: bare COPY of the same rows {ceiling:.1f} s ="
                    f" {events / ceiling:,.0f} ev/s ({mb(size)});"
                    f" export ÷ ceiling {ceiling / seconds:.2f}",
                    flush=True,
                )
        finally:
            app.terminate()
            app.wait(timeout=30)


if __name__ == "__main__":
    main()
