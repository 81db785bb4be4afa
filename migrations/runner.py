"""Applies the numbered SQL files in order, once each, recorded in ``schema_migrations``.

``NNNN_name.sql`` always runs; ``NNNN_name.timescale.sql`` only when the TimescaleDB
extension is installed, ``NNNN_name.plain.sql`` only when it is not — so one schema serves
plain PostgreSQL 15 (development, tests) and TimescaleDB (compose.yaml).
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+(?:\.(timescale|plain))?\.sql$")
_LOCK_ID = 0x7261_6D69  # one runner at a time per database


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    path: Path
    variant: str | None

    @property
    def name(self) -> str:
        return self.path.name


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name not of the form NNNN_name[.variant].sql: {path}")
        found.append(Migration(version=match[1], path=path, variant=match[2]))
    return found


def applicable(migrations: list[Migration], timescale: bool) -> list[Migration]:
    wanted_variant = "timescale" if timescale else "plain"
    return [m for m in migrations if m.variant in (None, wanted_variant)]


def apply_migrations(conninfo: str, schema: str | None = None) -> list[str]:
    """Apply what is missing; return the names applied. Safe to run concurrently and again."""
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if schema is not None:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
            timescale = bool(row and row[0])
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            for migration in applicable(discover(), timescale):
                if migration.name in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.path.read_text())
                    conn.execute(
                        "INSERT INTO schema_migrations (name) VALUES (%s)", (migration.name,)
                    )
                logger.info("applied migration %s", migration.name)
                applied.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied
