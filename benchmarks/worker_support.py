"""What the stream worker benchmarks share: a fresh migrated schema with one project, the
environment a worker process runs with there, the group's applied offsets, and the
process figures read from /proc."""

import asyncio
import os
import uuid
from pathlib import Path

import psycopg

from migrations.runner import apply_migrations
from tests.integration.stream_workers.workers import APPLIED

ROOT = Path(__file__).resolve().parents[1]


async def applied(conn: psycopg.AsyncConnection, group: str) -> int:
    row = await (await conn.execute(APPLIED, (group,))).fetchone()
    return int(row[0]) if row else 0


async def reached(conn: psycopg.AsyncConnection, group: str, count: int) -> int:
    """Poll the stored offsets until ``count`` records are applied; return the total. One
    kept connection: a connection per poll (a backend forked, SCRAM each time) took ~9% of
    the machine from the worker being measured."""
    for _ in range(10**7):
        done = await applied(conn, group)
        if done >= count:
            return done
        await asyncio.sleep(0.05)
    raise TimeoutError


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


async def new_schema(env: dict[str, str], project: str | None = None) -> tuple[str, str, str]:
    """A fresh migrated schema holding one "enterprise" project (with the id ``project``
    when given, so records made for another schema count here too): (schema, its
    connection string, the project's id)."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    apply_migrations(env["RA_DATABASE_URL"], schema=schema)
    database = f"{env['RA_DATABASE_URL']}?options=-csearch_path%3D{schema}"
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO projects (id, slug, name, plan, monthly_event_limit)"
            " VALUES (coalesce(%s::uuid, gen_random_uuid()), 'bench', 'Bench', 'enterprise',"
            " 100000000) RETURNING id::text",
            (project,),
        ).fetchone()
    assert row is not None
    return schema, database, row[0]


def drop_schemas(env: dict[str, str], schemas: list[str]) -> None:
    with psycopg.connect(env["RA_DATABASE_URL"], autocommit=True) as conn:
        for name in schemas:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")  # generated names


def worker_environment(
    env: dict[str, str], database: str, topic: str, group: str, schema: str
) -> dict[str, str]:
    return {
        **env,
        "RA_DATABASE_URL": database,
        "RA_EVENTS_TOPIC": topic,
        "RA_CONTROL_TOPIC": f"{topic}-control",
        "RA_WORKER_DEAD_LETTER_TOPIC": f"{topic}-dlq",
        "RA_WORKER_GROUP": group,
        "RA_REDIS_PREFIX": f"{schema}:",
    }
