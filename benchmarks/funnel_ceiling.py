"""The 3-step funnel beside its ceiling: the same rows in an embedded ClickHouse (chdb).

Run from the repository root with ``scripts/services.sh start`` up and the ``bench``
extra installed (``pip install -e '.[bench]'``: chdb)::

    python -m benchmarks.funnel_ceiling [--funnel-events 1000000] [--events 10000000]
        [--users 200000] [--days 90] [--runs 10] [--schema S] [--keep|--reuse]

It loads raw events as ``benchmarks.query_api --funnel-only`` does (the same generator,
rows and order: the first month, or as many as the range needs) into a schema of its
own, VACUUMs them as autovacuum would, and chooses the funnel's range as that benchmark
does: the first ``days * funnel-events / events`` days (``--funnel-events 10000000``
with the default ``--events``: all 90 days, 10M events). The rows the funnel reads —
``(distinct_id, ts, event)`` of the range, exported by ``COPY`` — go into chdb, a
MergeTree ordered by ``(distinct_id, ts)`` with the time as microseconds
(``windowFunnel`` takes no ``DateTime64``), and ClickHouse's own ``windowFunnel(86400 s,
'strict_increase')`` answers the same 3 steps and window (our funnel wants each step
strictly later than the one before). The answers must be identical per step, or the run
stops.

Then ``--runs`` rounds, each timing ours (``query_api.funnels.funnel``, a direct call, as
the handler makes it), chdb's and a floor back to back, so the machine's load hits all
three; it prints each side's median and p90, the ratio of the medians and of the p90s
(target ≤ 3), and the load average beside every figure (the machine is shared). The floor
is PostgreSQL reading the same rows through the funnel's index and grouping them per user,
without any funnel logic: no plan of the funnel in PostgreSQL can beat it.
"""

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from chdb import session as chdb_session

from benchmarks.query_api import document, load_average
from benchmarks.query_load import START, create_schema, load_raw, schema_url, step
from query_api import funnels
from query_api.model import Funnel
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS, load_settings

SCHEMA = "bench_funnel_ceiling"
STEPS = ("$pageview", "signup", "purchase")
WINDOW_SECONDS = 86400

_EXPORT = (
    "COPY (SELECT distinct_id, (extract(epoch FROM ts) * 1000000)::bigint, event"
    " FROM events WHERE project_id = %s AND ts >= %s AND ts < %s AND event = ANY(%s))"
    " TO STDOUT (FORMAT csv)"
)
_TABLE = (
    "CREATE TABLE ev (distinct_id String, ts UInt64, event LowCardinality(String))"
    " ENGINE = MergeTree ORDER BY (distinct_id, ts)"
)
_INSERT = (
    "INSERT INTO ev SELECT * FROM file('{path}', CSV,"
    " 'distinct_id String, ts UInt64, event String')"
)
_SIZE = "SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'ev' AND active"
_FUNNEL = (
    "SELECT countIf(level >= 1), countIf(level >= 2), countIf(level >= 3) FROM ("
    " SELECT windowFunnel({window}, 'strict_increase')(ts, {conditions}) AS level"
    " FROM ev GROUP BY distinct_id)"
)


# PostgreSQL's floor for any plan over these rows: each user's rows of the range read
# through the funnel's index and grouped, no funnel logic (one process; the funnel uses two).
_FLOOR = (
    "SELECT count(*) FROM (SELECT distinct_id, count(*) FROM events WHERE project_id = %s"
    " AND ts >= %s AND ts < %s AND event = ANY(%s) GROUP BY distinct_id) u"
)


def chdb_funnel_sql() -> str:
    """ClickHouse's funnel over the loaded rows: users reaching each step."""
    conditions = ", ".join(f"event = '{name}'" for name in STEPS)  # constants
    return _FUNNEL.format(window=WINDOW_SECONDS * 1_000_000, conditions=conditions)


def load(url: str, base_url: str, schema: str, args: argparse.Namespace, span: timedelta) -> None:
    """The benchmark's rows of its first month, or of ``span`` and two days more when
    longer, generated in arrival order, then VACUUM ANALYZE."""
    events, users, days = args.events, args.users, args.days
    project = create_schema(url, base_url, schema, days)
    # As --funnel-only: the whole first month (the funnel's index then holds the month's
    # other rows too), or more when the range is longer.
    loaded = min(events, math.ceil(events * max(32, span.total_seconds() / 86400 + 2) / days))
    print(f"loading {loaded:,} of {events:,} events ({users:,} users, {days} days)", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        load_raw(conn, project, events, users, days, loaded)
        step("vacuum analyze events", lambda: conn.execute("VACUUM ANALYZE events"))


def export(url: str, project: str, q: Funnel, path: Path) -> int:
    """The funnel's rows as CSV at ``path``; how many."""
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as cursor, path.open("wb") as out:
        args = (project, q.range.start, q.range.end, list(STEPS))
        with cursor.copy(_EXPORT, args) as copy:
            for chunk in copy:
                out.write(chunk)
                rows += bytes(chunk).count(b"\n")
    return rows


def funnel_query(span: timedelta) -> Funnel:
    q = parse_query(
        document(
            "funnel",
            START,
            START + span,
            steps=[{"event": name} for name in STEPS],
            conversionWindow={"value": 1, "unit": "day"},
        ),
        DEFAULT_MAX_RANGE_SECONDS,
    )
    assert isinstance(q, Funnel)
    return q


def median_p90(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


async def compare(url: str, q: Funnel, runs: int, workers: int, ch: Any) -> dict[str, Any]:
    """Ours and chdb's, alternating; both answers checked identical first."""
    sql = chdb_funnel_sql()

    def clickhouse() -> list[int]:
        return [int(n) for n in str(ch.query(sql, "CSV")).strip().split(",")]

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT id::text FROM projects")).fetchone()
        assert row is not None
        project = row[0]

        async def ours() -> list[int]:
            answer = await funnels.funnel(conn, project, q, workers)
            return [int(s["users"]) for s in answer["steps"]]

        mine, theirs = await ours(), clickhouse()  # also the warm-up
        print(f"users per step: ours {mine}, chdb {theirs}; {load_average()}", flush=True)
        if mine != theirs:
            raise SystemExit("the answers differ: not comparable")
        times: dict[str, list[float]] = {"ours": [], "chdb": [], "floor": []}
        floor_args = (project, q.range.start, q.range.end, list(STEPS))
        loads = []
        for _ in range(runs):
            started = time.perf_counter()
            await ours()
            times["ours"].append(time.perf_counter() - started)
            started = time.perf_counter()
            clickhouse()
            times["chdb"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await conn.execute(_FLOOR, floor_args)
            times["floor"].append(time.perf_counter() - started)
            loads.append(os.getloadavg()[0])
    return {"users": mine, "times": times, "loads": loads}


def report(label: str, result: dict[str, Any], workers: int) -> None:
    o50, o90 = median_p90(result["times"]["ours"])
    c50, c90 = median_p90(result["times"]["chdb"])
    f50, f90 = median_p90(result["times"]["floor"])
    loads = result["loads"]
    print(
        f"{label}: ours ({workers} worker(s)) median {o50:.3f} s, p90 {o90:.3f} s;"
        f" chdb median {c50:.3f} s, p90 {c90:.3f} s; ratio ours/chdb median {o50 / c50:.1f}x,"
        f" p90 {o90 / c90:.1f}x (target <= 3x); PostgreSQL reading the rows by the index,"
        f" grouped per user, no funnel: median {f50:.3f} s, p90 {f90:.3f} s"
        f" ({f50 / c50:.1f}x chdb); {len(loads)} rounds alternating,"
        f" 1-min load {min(loads):.2f}-{max(loads):.2f}; {load_average()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--funnel-events", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--schema", default=SCHEMA)
    parser.add_argument("--keep", action="store_true", help="leave the schema for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a kept schema")
    args = parser.parse_args()
    base = load_settings()
    url = schema_url(base.database_url, args.schema)
    span = timedelta(days=args.days * min(1.0, args.funnel_events / args.events))
    q = funnel_query(span)
    print(load_average(), flush=True)
    try:
        if not args.reuse:
            load(url, base.database_url, args.schema, args, span)
        with tempfile.TemporaryDirectory() as tmp:
            with psycopg.connect(url) as conn:
                found = conn.execute("SELECT id::text FROM projects").fetchone()
            assert found is not None
            csv = Path(tmp) / "funnel.csv"
            rows = step("export the funnel's rows", lambda: export(url, found[0], q, csv))
            ch = chdb_session.Session(str(Path(tmp) / "chdb"))
            try:
                ch.query(_TABLE)
                step(f"chdb load {rows:,} rows", lambda: ch.query(_INSERT.format(path=csv)))
                step("chdb OPTIMIZE FINAL", lambda: ch.query("OPTIMIZE TABLE ev FINAL"))
                size = ch.query(_SIZE, "CSV")
                print(f"  chdb bytes on disk: {int(str(size).strip()) / rows:.1f} per event")
                result = asyncio.run(compare(url, q, args.runs, base.funnel_workers, ch))
            finally:
                ch.close()
        report(
            f"funnel 3 steps over {rows:,} events ({span.total_seconds() / 86400:.1f} days,"
            f" {result['users'][0]:,} users at step 1)",
            result,
            base.funnel_workers,
        )
    finally:
        if not args.keep:
            with psycopg.connect(base.database_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE")  # an option


if __name__ == "__main__":
    main()
