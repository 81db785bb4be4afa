"""SQL of timeseries, breakdown and metric answers, from rollups or the raw events.

Every statement is constant text; project, event, keys, values and edges are bound
parameters. Both stores cut rows into the answer's parts with ``width_bucket`` over the
edges (a binary search): rollups by bucket start at the planner's granularity (each
bucket lies wholly inside one part), raw events by ``ts``.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from contracts.buckets import MAX_VALUE_CHARS
from contracts.sketches import HLL_PARAMETERS
from query_api.conditions import raw_filters, value_filters
from query_api.model import Filter
from query_api.persons import ALIASES, PERSON, bots_condition

_ROLLUP_AGG = {
    "count": "sum(r.events)",
    "unique_users": "public.hll_cardinality(public.hll_union_agg(r.users))",
    "sessions": "public.hll_cardinality(public.hll_union_agg(r.sessions))",
}
# Over the raw rows' ``_raw_rows``: unique users from raw count persons (merged ids).
_RAW_AGG = {
    "count": "count(*)",
    "unique_users": "count(DISTINCT person)",
    "sessions": "count(DISTINCT session_id)",
}
# Parameters: project, event, granularity, first edge, last edge.
_SPAN = (
    "r.project_id = %s AND r.event = %s AND r.granularity = %s AND r.bucket >= %s AND r.bucket < %s"
)
_PART = "width_bucket(r.bucket, %s::timestamptz[]) - 1"


def edge_array(edges: Sequence[datetime]) -> str:
    """``edges`` as a ``timestamptz[]`` literal: psycopg's list dumper took ~1.6 ms for the
    721 edges of a 30-day hourly series, three times the rollup query itself."""
    return "{" + ",".join(edge.isoformat() for edge in edges) + "}"


def as_number(value: Any) -> int:
    """Counts are exact integers; HLL cardinalities are floats, rounded."""
    return 0 if value is None else round(value)


def _span(project: str, event: str, granularity: str, edges: Sequence[datetime]) -> list[Any]:
    return [project, event, granularity, edges[0], edges[-1]]


async def _rows(conn: AsyncConnection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall()


async def rollup_covers(
    conn: AsyncConnection,
    project: str,
    event: str,
    key: str,
    granularity: str,
    edges: Sequence[datetime],
) -> bool:
    """Whether ``key`` was rolled up for every event of the range (its rows sum to the
    total): a key added to a project's config later has no rows for older buckets."""
    sql = (
        f"SELECT (SELECT coalesce(sum(r.events), 0) FROM rollups r WHERE {_SPAN}),"  # noqa: S608 - constant SQL text, values bound
        f" (SELECT coalesce(sum(r.events), 0) FROM breakdown_rollups r"
        f" WHERE r.key = %s AND {_SPAN})"
    )
    span = _span(project, event, granularity, edges)
    [(total, keyed)] = await _rows(conn, sql, [*span, key, *span])
    return bool(total == keyed)


async def rollup_parts(
    conn: AsyncConnection,
    project: str,
    event: str,
    metric: str,
    granularity: str,
    edges: Sequence[datetime],
    key: str | None,
    filters: Sequence[Filter],
) -> dict[int, int]:
    """Metric per part from rollups (``key``: through that key's breakdown rollups)."""
    agg, span = _ROLLUP_AGG[metric], _span(project, event, granularity, edges)
    if key is None:
        sql = f"SELECT {_PART}, {agg} FROM rollups r WHERE {_SPAN} GROUP BY 1"  # noqa: S608 - constant SQL text, values bound
        params: list[Any] = [edge_array(edges), *span]
    else:
        where, values = value_filters(filters)
        sql = (
            f"SELECT {_PART}, {agg} FROM breakdown_rollups r"  # noqa: S608 - constant SQL text, values bound
            f" WHERE r.key = %s AND {_SPAN} AND ({where}) GROUP BY 1"
        )
        params = [edge_array(edges), key, *span, *values]
    return {int(part): as_number(v) for part, v in await _rows(conn, sql, params)}


def _raw_rows(metric: str, columns: str, include_bots: bool) -> str:
    """``FROM events e`` (with the person of each row when ``metric`` counts users) and the
    start of a WHERE: project, event, range; then filters are ANDed. Parameters: project,
    event, range start, range end."""
    person, join = (PERSON, f" {ALIASES}") if metric == "unique_users" else ("NULL", "")
    return (
        f"SELECT {columns}, {person} AS person, session_id FROM events e{join}"  # noqa: S608 - constant SQL text, values bound
        " WHERE e.project_id = %s AND event = %s AND ts >= %s AND ts < %s"
        f" AND {bots_condition(include_bots)}"
    )


async def raw_parts(
    conn: AsyncConnection,
    project: str,
    event: str,
    metric: str,
    edges: Sequence[datetime],
    filters: Sequence[Filter],
    include_bots: bool = False,
) -> dict[int, int]:
    """Metric per part ``[edges[i], edges[i+1])`` from the raw events."""
    where, values = raw_filters(filters)
    rows = _raw_rows(metric, "width_bucket(ts, %s::timestamptz[]) - 1 AS part", include_bots)
    sql = f"SELECT part, {_RAW_AGG[metric]} FROM ({rows} AND ({where})) r GROUP BY 1"  # noqa: S608 - constant SQL text, values bound
    params = [edge_array(edges), project, event, edges[0], edges[-1], *values]
    return {int(part): as_number(v) for part, v in await _rows(conn, sql, params)}


async def rollup_groups(
    conn: AsyncConnection,
    project: str,
    event: str,
    metric: str,
    granularity: str,
    edges: Sequence[datetime],
    key: str,
    filters: Sequence[Filter],
    excluded: Sequence[str | None] | None = None,
) -> list[tuple[str | None, int]]:
    """Metric per stored value of ``key``; with ``excluded``, one row for all the other
    values together (a breakdown's "other")."""
    where, values = value_filters(filters)
    group, rest = _grouping("r.value", excluded)
    sql = (
        f"SELECT {group}, {_ROLLUP_AGG[metric]} FROM breakdown_rollups r"  # noqa: S608 - constant SQL text, values bound
        f" WHERE r.key = %s AND {_SPAN} AND ({where}) AND {rest[0]} GROUP BY 1"
    )
    params = [key, *_span(project, event, granularity, edges), *values, *rest[1]]
    return [(v, as_number(n)) for v, n in await _rows(conn, sql, params)]


async def raw_groups(
    conn: AsyncConnection,
    project: str,
    event: str,
    metric: str,
    edges: Sequence[datetime],
    key: str,
    filters: Sequence[Filter],
    excluded: Sequence[str | None] | None = None,
    include_bots: bool = False,
) -> list[tuple[str | None, int]]:
    """As ``rollup_groups``, from the raw events (values cut as the rollups store them)."""
    where, values = raw_filters(filters)
    group, rest = _grouping("value", excluded)
    rows = _raw_rows(metric, "left(properties ->> %s::text, %s) AS value", include_bots)
    sql = (
        f"SELECT {group}, {_RAW_AGG[metric]} FROM ({rows} AND ({where})) r"  # noqa: S608 - constant SQL text, values bound
        f" WHERE {rest[0]} GROUP BY 1"
    )
    params = [key, MAX_VALUE_CHARS, project, event, edges[0], edges[-1], *values, *rest[1]]
    return [(v, as_number(n)) for v, n in await _rows(conn, sql, params)]


def _grouping(
    column: str, excluded: Sequence[str | None] | None
) -> tuple[str, tuple[str, list[Any]]]:
    """(group expression, (condition, its parameters)): by value, or everything outside
    ``excluded`` as one group."""
    if excluded is None:
        return column, ("true", [])
    texts = [v for v in excluded if v is not None]
    condition = f"NOT (COALESCE({column} = ANY(%s::text[]), false) OR ({column} IS NULL AND %s))"
    return "NULL::text", (condition, [texts, None in excluded])


_MERGE = {
    "count": ("r.events", "count(*)", "sum(v)"),
    "unique_users": (
        "r.users",
        f"public.hll_add_agg(public.hll_hash_text(distinct_id), {HLL_PARAMETERS})",
        "public.hll_cardinality(public.hll_union_agg(v))",
    ),
    "sessions": (
        "r.sessions",
        f"public.hll_add_agg(public.hll_hash_text(session_id), {HLL_PARAMETERS})",
        "public.hll_cardinality(public.hll_union_agg(v))",
    ),
}


async def rollup_and_raw_parts(
    conn: AsyncConnection,
    project: str,
    event: str,
    metric: str,
    granularity: str,
    edges: Sequence[datetime],
    inner: Sequence[datetime],
    key: str | None,
    filters: Sequence[Filter],
) -> dict[int, int]:
    """Metric per part: rollups between the ``inner`` edges, raw events for the slivers
    ``[edges[0], inner[0])`` (first part) and ``[inner[-1], edges[-1])`` (last part).
    Unique counts merge raw rows into the rollups' sketch type (the sink's own hashing),
    so they stay exact where the sketches are, and count distinct ids as the rollups do;
    the slivers leave bots out as the rollups do."""
    stored, fresh, final = _MERGE[metric]
    table, key_clause = ("rollups", "") if key is None else ("breakdown_rollups", "r.key = %s AND ")
    where, values = value_filters(filters) if key is not None else ("true", [])
    raw_where, raw_values = raw_filters(filters)
    sql = (
        f"SELECT part, {final} FROM (SELECT {_PART} AS part, {stored} AS v FROM {table} r"  # noqa: S608 - constant SQL text, values bound
        f" WHERE {key_clause}{_SPAN} AND ({where})"
        f" UNION ALL SELECT CASE WHEN ts < %s THEN 0 ELSE %s END, {fresh} FROM events"
        " WHERE project_id = %s AND event = %s"
        " AND ((ts >= %s AND ts < %s) OR (ts >= %s AND ts < %s))"
        f" AND ({raw_where}) AND {bots_condition(False)} GROUP BY 1) x GROUP BY part"
    )
    params: list[Any] = [edge_array(inner), *([key] if key is not None else [])]
    params += [*_span(project, event, granularity, inner), *values]
    params += [inner[0], len(edges) - 2, project, event]
    params += [edges[0], inner[0], inner[-1], edges[-1], *raw_values]
    return {int(part): as_number(v) for part, v in await _rows(conn, sql, params)}
