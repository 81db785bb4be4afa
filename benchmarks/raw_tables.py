"""What splitting each month of the raw store by project costs (docs/decisions/0016).

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.raw_tables [--projects 1,100,1000] [--rows 200000] [--rounds 3]
                                    [--plans 20] [--schema bench_partitions]

For each N in ``--projects``: a fresh migrated schema (``--schema``, dropped at the end)
with N projects and one month (July 2026), and then, each figure printed as it comes with
the load average:

1. the month's N (month, project) tables, made by the sink's own ``Partitioner.ensure``
   (ms per table, the month's own table included once), and what they take in the
   catalogue: relations (those of the schema, plus their TOAST tables and indexes), their
   ``pg_attribute`` rows, and how much pg_class, pg_attribute, pg_index, pg_depend, pg_type,
   pg_inherits and pg_constraint grew on disk (the whole database's: other sessions count);
2. the insert ceiling: ``--rows`` rows of the month spread evenly over the N projects in
   random order (a shard's batch mixes projects), in time order, as one text ``COPY`` into
   a plain table with the same columns and indexes (the bare component) and into
   ``events`` (routed to the N tables): rows/s and the ratio; then the sink's own path
   (stream_workers/projections.py: ``COPY`` into its staging table, then ``INSERT INTO
   ... SELECT``) into both. Each is rolled back (time to the end of the statement), the
   tables vacuumed after each round, the median of ``--rounds`` kept; the rows are then
   committed once into ``events`` for what follows;
3. planning (``EXPLAIN (SUMMARY)``, median of ``--plans``, after one warm-up, and the
   median of 5 first plans on a fresh connection, whose relation cache is empty) of
   (a) a funnel's scan of one project (``project_id = $1 AND ts >= ... AND event =
   ANY(...)``: pruned to one table at planning) and (b) ``count(*)`` over the month for
   no project (all N tables), with the memory of the backend that planned (b);
4. the retention job: ``Retainer.run`` with every project's retention at one day, so
   that all N tables expire: seconds for the N detaches (``CONCURRENTLY``) and drops.

It ends with one table, N as rows. With the defaults (N up to 1000) it takes about
4 minutes on a quiet 2-core machine (6 with other work running). ``--projects 10000``
took 16 minutes more there (the machine shared with other work): making the tables slows
as their number grows (50 ms each), and with the server's default
``max_locks_per_transaction`` (64) the inserts into ``events`` and the planning of (b)
fail ("out of shared memory": one statement touching 10,000 tables locks each of them
and, writing, its two indexes, more than the shared lock table holds); those are shown
as failed, the rest is measured.
"""

import argparse
import asyncio
import math
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, errors, sql

from benchmarks.query_api import load_average
from benchmarks.query_load import schema_url
from benchmarks.raw_table_planning import measure_planning, scalar
from migrations.runner import apply_migrations
from stream_workers.projections import COLUMNS, CREATE_STAGING
from stream_workers.raw_tables import Partitioner, next_month, partition_name
from stream_workers.retention import Retainer
from stream_workers.settings import load_settings

SCHEMA = "bench_partitions"
MONTH = date(2026, 7, 1)
PLAIN = "plain_events"  # not events_*: the retention job's names
EVENTS = ("$pageview", "signup", "purchase", "$autocapture")

_COPY_EVENTS = f"COPY events ({COLUMNS}) FROM STDIN"
_COPY_PLAIN = f"COPY {PLAIN} ({COLUMNS}) FROM STDIN"
_STAGE = f"COPY batch_events (part, pos, {COLUMNS}) FROM STDIN"

_CATALOGUE = """
WITH own AS (
    SELECT oid, reltoastrelid FROM pg_class
    WHERE relnamespace = current_schema()::regnamespace
), toast AS (
    SELECT reltoastrelid AS oid FROM own WHERE reltoastrelid <> 0
), every AS (
    SELECT oid FROM own UNION ALL SELECT oid FROM toast
    UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM toast)
)
SELECT (SELECT count(*) FROM own), (SELECT count(*) FROM every),
       (SELECT count(*) FROM pg_attribute WHERE attrelid IN (SELECT oid FROM every))
"""

_CATALOGUE_BYTES = """
SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['pg_class', 'pg_attribute',
    'pg_index', 'pg_depend', 'pg_type', 'pg_inherits', 'pg_constraint']::regclass[]) c
"""


@dataclass(slots=True)
class Figures:
    """One N's row of the summary table."""

    projects: int
    ensure_ms: float = math.nan  # per table
    relations: int = 0
    catalogue_mib: float = math.nan
    copy_plain: float = math.nan  # rows/s
    copy_events: float = math.nan
    sink_plain: float = math.nan
    sink_events: float = math.nan
    plan_one_ms: float = math.nan
    plan_all_ms: float = math.nan
    plan_all_cold_ms: float = math.nan
    backend_mib: float = math.nan
    retention_s: float = math.nan


def copy_lines(projects: Sequence[str], rows: int, seed: int = 0) -> list[bytes]:
    """``rows`` lines of text COPY over the month in time order, each project's share
    equal (within one row), the projects in random order."""
    rng = random.Random(seed)
    owners = [projects[i % len(projects)] for i in range(rows)]
    rng.shuffle(owners)
    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=UTC)
    span = (next_month(MONTH) - MONTH).total_seconds()
    users = max(rows // 20, 1)
    lines = []
    for i, project in enumerate(owners):
        ts = start + timedelta(seconds=span * i / rows)
        received = ts + timedelta(seconds=1)
        user = rng.randrange(users)
        lines.append(
            f"{uuid.uuid4()}\t{project}\t{EVENTS[i % len(EVENTS)]}\t{ts.isoformat()}\t"
            f"{received.isoformat()}\tu{user}\ts{user}-{i // 50}\t"
            f'{{"$pathname": "/page/{i % 30}"}}\t\\N\t{{}}\n'.encode()
        )
    return lines


def fresh_schema(base_url: str, url: str, schema: str, projects: int) -> list[str]:
    """The schema (any old one dropped), migrated, with ``projects`` projects; their ids."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    apply_migrations(url)
    ids = [str(uuid.uuid4()) for _ in range(projects)]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO projects (id, slug, name, plan, monthly_event_limit)"
                " VALUES (%s, %s, 'Bench', 'enterprise', 100000000)",
                [(project, f"bench-{n}") for n, project in enumerate(ids)],
            )
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE events INCLUDING ALL)").format(sql.Identifier(PLAIN))
        )
    return ids


async def attempt(label: str, call: Awaitable[float]) -> float:
    """A measurement, or NaN when the server ran out of lock slots (a transaction that
    touches every table of a large N: the shared lock table is sized by
    ``max_locks_per_transaction``)."""
    try:
        return await call
    except errors.OutOfMemory as exc:
        print(f"  {label} failed: {str(exc).splitlines()[0]}", flush=True)
        return math.nan


def shown(value: float, spec: str) -> str:
    return "failed" if math.isnan(value) else format(value, spec)


async def make_tables(conn: AsyncConnection[Any], projects: list[str], figures: Figures) -> None:
    async def catalogue() -> tuple[int, int, int, int]:
        own, relations, attributes = await (await conn.execute(_CATALOGUE)).fetchone() or (0,) * 3
        return int(own), int(relations), int(attributes), int(await scalar(conn, _CATALOGUE_BYTES))

    before = await catalogue()
    started = time.perf_counter()
    await Partitioner().ensure(conn, [(MONTH, p) for p in projects])
    seconds = time.perf_counter() - started
    after = await catalogue()
    own, relations, attributes, grown = (a - b for a, b in zip(after, before, strict=True))
    figures.ensure_ms = seconds * 1000 / len(projects)
    figures.relations = relations
    figures.catalogue_mib = grown / 2**20
    print(
        f"  ensure: {len(projects):,} tables in {seconds:.1f} s = {figures.ensure_ms:.1f} ms"
        f" each; catalogue: +{own:,} relations in the schema (now {after[0]:,}), +{relations:,}"
        f" with their TOAST, +{attributes:,} pg_attribute rows; system catalogues grew"
        f" {grown / 2**20:.1f} MiB (now {after[3] / 2**20:.1f} MiB); {load_average()}",
        flush=True,
    )


async def copy_seconds(conn: AsyncConnection[Any], statement: str, data: bytes) -> float:
    """One COPY, rolled back; seconds to its end."""
    async with conn.transaction(force_rollback=True):
        started = time.perf_counter()
        async with conn.cursor() as cursor, cursor.copy(statement) as copy:
            await copy.write(data)
        return time.perf_counter() - started


async def sink_path_seconds(conn: AsyncConnection[Any], staged: bytes, target: str) -> float:
    """The sink's path into ``target``, rolled back: stage by COPY, then insert."""
    insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM batch_events").format(
        sql.Identifier(target), sql.SQL(COLUMNS), sql.SQL(COLUMNS)
    )
    async with conn.transaction(force_rollback=True):
        started = time.perf_counter()
        async with conn.cursor() as cursor, cursor.copy(_STAGE) as copy:
            await copy.write(staged)
        await conn.execute(insert)
        return time.perf_counter() - started


async def measure_inserts(
    conn: AsyncConnection[Any], lines: list[bytes], rounds: int, figures: Figures
) -> None:
    data = b"".join(lines)
    staged = b"".join(b"0\t%d\t" % n + line for n, line in enumerate(lines))
    await conn.execute(CREATE_STAGING)
    rows = len(lines)
    samples: dict[str, list[float]] = {k: [] for k in ("cp", "ce", "sp", "se")}
    for _ in range(rounds):
        samples["cp"].append(await copy_seconds(conn, _COPY_PLAIN, data))
        samples["ce"].append(await attempt("COPY events", copy_seconds(conn, _COPY_EVENTS, data)))
        samples["sp"].append(await sink_path_seconds(conn, staged, PLAIN))
        samples["se"].append(
            await attempt("sink path events", sink_path_seconds(conn, staged, "events"))
        )
        await conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(PLAIN)))
        await conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(partition_name(MONTH))))
    rates = {
        k: math.nan if any(map(math.isnan, v)) else rows / statistics.median(v)
        for k, v in samples.items()
    }
    figures.copy_plain, figures.copy_events = rates["cp"], rates["ce"]
    figures.sink_plain, figures.sink_events = rates["sp"], rates["se"]
    print(
        f"  {rows:,} rows ({len(data) / rows:.0f} bytes of COPY text each), median of"
        f" {rounds}: COPY plain {shown(rates['cp'], ',.0f')} rows/s, COPY events"
        f" {shown(rates['ce'], ',.0f')} rows/s (ratio {shown(rates['ce'] / rates['cp'], '.2f')});"
        f" sink path plain {shown(rates['sp'], ',.0f')} rows/s, events"
        f" {shown(rates['se'], ',.0f')} rows/s (ratio {shown(rates['se'] / rates['sp'], '.2f')});"
        f" {load_average()}",
        flush=True,
    )
    await attempt("loading events for what follows", load_events(conn, data))


async def load_events(conn: AsyncConnection[Any], data: bytes) -> float:
    """The rows committed into ``events``, analyzed, for the planning and the retention."""
    async with conn.transaction(), conn.cursor() as cursor, cursor.copy(_COPY_EVENTS) as copy:
        await copy.write(data)
    await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(partition_name(MONTH))))
    return 0.0


async def measure_retention(url: str, projects: list[str], figures: Figures) -> None:
    async def connect() -> AsyncConnection[Any]:
        return await AsyncConnection.connect(url, autocommit=True)

    async with await connect() as conn:
        await conn.execute("UPDATE projects SET raw_retention_days = 1")
    today = next_month(MONTH) + timedelta(days=2)
    started = time.perf_counter()
    run = await Retainer("default", connect, connect).run(today=today)
    seconds = time.perf_counter() - started
    assert run is not None and len(run.dropped) == len(projects), run
    figures.retention_s = seconds
    print(
        f"  retention: {len(run.dropped):,} tables detached and dropped in {seconds:.1f} s ="
        f" {seconds * 1000 / len(projects):.1f} ms each; {load_average()}",
        flush=True,
    )


async def measure(url: str, projects: list[str], args: argparse.Namespace) -> Figures:
    figures = Figures(len(projects))
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await make_tables(conn, projects, figures)
        await measure_inserts(conn, copy_lines(projects, args.rows), args.rounds, figures)
    plans = await measure_planning(url, projects[0], args.plans, MONTH)
    figures.plan_one_ms, figures.plan_all_ms = plans.one_ms, plans.all_ms
    figures.plan_all_cold_ms, figures.backend_mib = plans.all_cold_ms, plans.backend_mib
    await measure_retention(url, projects, figures)
    return figures


def print_table(rows: list[Figures]) -> None:
    columns: list[tuple[str, Callable[[Figures], str]]] = [
        ("N", lambda f: f"{f.projects:,}"),
        ("ensure ms/tbl", lambda f: shown(f.ensure_ms, ".1f")),
        ("+relations", lambda f: f"{f.relations:,}"),
        ("catalog +MiB", lambda f: shown(f.catalogue_mib, ".1f")),
        ("COPY plain r/s", lambda f: shown(f.copy_plain, ",.0f")),
        ("COPY events r/s", lambda f: shown(f.copy_events, ",.0f")),
        ("ratio", lambda f: shown(f.copy_events / f.copy_plain, ".2f")),
        ("sink plain r/s", lambda f: shown(f.sink_plain, ",.0f")),
        ("sink events r/s", lambda f: shown(f.sink_events, ",.0f")),
        ("ratio", lambda f: shown(f.sink_events / f.sink_plain, ".2f")),
        ("plan (a) ms", lambda f: shown(f.plan_one_ms, ".2f")),
        ("plan (b) ms", lambda f: shown(f.plan_all_ms, ".2f")),
        ("(b) cold ms", lambda f: shown(f.plan_all_cold_ms, ".2f")),
        ("backend MiB", lambda f: shown(f.backend_mib, ".1f")),
        ("retention s", lambda f: shown(f.retention_s, ".2f")),
        ("retention ms/tbl", lambda f: shown(f.retention_s * 1000 / f.projects, ".1f")),
    ]
    cells = [[name for name, _ in columns], *[[show(f) for _, show in columns] for f in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        print(" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), flush=True)


async def run_all(base_url: str, url: str, args: argparse.Namespace) -> tuple[list[Figures], float]:
    results = []
    started = time.perf_counter()
    for n in args.projects:
        print(f"N = {n:,} projects, one month ({MONTH:%Y-%m}); {load_average()}", flush=True)
        projects = fresh_schema(base_url, url, args.schema, n)
        results.append(await measure(url, projects, args))
    return results, time.perf_counter() - started


_LEFT = r"""
SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(%s)
AND relkind = 'r' AND relname ~ '^events_\d{4}_\d{2}_p'
"""


def drop_schema(base_url: str, schema: str) -> None:
    """The schema, its (month, project) tables first one by one: dropped together, many
    thousands of them would not fit in the server's lock table."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        for (name,) in conn.execute(_LEFT, (schema,)).fetchall():
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--projects", type=lambda s: [int(n) for n in s.split(",")], default=[1, 100, 1000]
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3, help="of each insert measurement")
    parser.add_argument("--plans", type=int, default=20, help="of each planning measurement")
    parser.add_argument("--schema", default=SCHEMA)
    args = parser.parse_args()
    base_url = load_settings().database_url
    url = schema_url(base_url, args.schema)
    try:
        results, seconds = asyncio.run(run_all(base_url, url, args))
    finally:
        drop_schema(base_url, args.schema)
    print(
        f"\nsummary ({args.rows:,} rows a COPY, one month; {seconds / 60:.1f} minutes;"
        f" {load_average()}):",
        flush=True,
    )
    print_table(results)


if __name__ == "__main__":
    main()
