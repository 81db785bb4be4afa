"""Planning cost of the raw store split by project (``benchmarks.raw_tables``, step 3):
``EXPLAIN (SUMMARY)`` of one project's funnel scan (pruned to its table) and of a count
over the month for no project (every table), warm and on fresh connections."""

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, errors

from benchmarks.query_api import load_average
from stream_workers.raw_tables import next_month

COLD_PLANS = 5

_FUNNEL_SCAN = (
    "EXPLAIN (SUMMARY, FORMAT JSON) SELECT distinct_id, ts, event FROM events"
    " WHERE project_id = %s AND ts >= %s AND ts < %s AND event = ANY(%s::text[])"
    " ORDER BY distinct_id, ts"
)
_WHOLE_MONTH = (
    "EXPLAIN (SUMMARY, FORMAT JSON) SELECT count(*) FROM events WHERE ts >= %s AND ts < %s"
)
_BACKEND_BYTES = "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"


@dataclass(slots=True)
class Plans:
    one_ms: float = math.nan  # (a), warm
    all_ms: float = math.nan  # (b), warm
    all_cold_ms: float = math.nan
    backend_mib: float = math.nan


async def scalar(conn: AsyncConnection[Any], statement: str, *params: Any) -> Any:
    row = await (await conn.execute(statement, params or None)).fetchone()
    assert row is not None
    return row[0]


def relations_in(plan: Any) -> int:
    """Tables a JSON plan reads."""
    if isinstance(plan, dict):
        own = 1 if "Relation Name" in plan else 0
        return own + sum(relations_in(v) for v in plan.values())
    if isinstance(plan, list):
        return sum(relations_in(v) for v in plan)
    return 0


async def explain(conn: AsyncConnection[Any], statement: str, params: Sequence[Any]) -> Any:
    plan = await scalar(conn, statement, *params)
    return json.loads(plan) if isinstance(plan, str) else plan


async def planning(
    url: str, statement: str, params: Sequence[Any], runs: int
) -> tuple[float, float, int, int]:
    """Median planning ms warm and cold, tables in the plan, the warm backend's bytes."""
    cold = []
    for _ in range(COLD_PLANS):
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            cold.append(float((await explain(conn, statement, params))[0]["Planning Time"]))
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        plan = await explain(conn, statement, params)
        warm = [
            float((await explain(conn, statement, params))[0]["Planning Time"]) for _ in range(runs)
        ]
        memory = int(await scalar(conn, _BACKEND_BYTES))
    return statistics.median(warm), statistics.median(cold), relations_in(plan), memory


async def measure_planning(url: str, project: str, runs: int, month: date) -> Plans:
    """Prints each figure as it comes; a plan the server ran out of lock slots for is
    left out (NaN, shown as failed)."""
    figures = Plans()
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = start + timedelta(days=7)
    funnel = (project, start, end, ["$pageview", "signup", "purchase"])
    for label, statement, params in [
        ("(a) one project's funnel scan, 7 days", _FUNNEL_SCAN, funnel),
        ("(b) count(*) over the month, no project", _WHOLE_MONTH, (start, next_month(month))),
    ]:
        try:
            warm, cold, tables, memory = await planning(url, statement, params, runs)
        except errors.OutOfMemory as exc:
            print(f"  planning {label} failed: {str(exc).splitlines()[0]}", flush=True)
            continue
        if statement == _FUNNEL_SCAN:
            figures.one_ms = warm
        else:
            figures.all_ms, figures.all_cold_ms = warm, cold
            figures.backend_mib = memory / 2**20
        print(
            f"  planning {label}: median {warm:.2f} ms of {runs}, first on a fresh connection"
            f" {cold:.2f} ms (median of {COLD_PLANS}); {tables} table(s) in the plan; backend"
            f" memory after {memory / 2**20:.1f} MiB; {load_average()}",
            flush=True,
        )
    return figures
