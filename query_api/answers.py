"""Each query type's answer (the contract's shapes), planned and then read from the store.

``force_raw`` skips the rollups (tests and benchmarks compare the two sources); so does a
query's ``include_bots``, since rollups never hold bots' events.

Every function returns the answer body without ``meta`` and the plan that produced it.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from query_api import queries
from query_api.model import Breakdown, Filter, MetricQuery, Timeseries
from query_api.planner import RAW, Plan, plan
from query_api.timebuckets import buckets, labels_in

Answer = dict[str, Any]


async def _parts(
    conn: AsyncConnection,
    project: str,
    event: str,
    metric: str,
    edges: Sequence[datetime],
    filters: Sequence[Filter],
    force_raw: bool,
    include_bots: bool,
) -> tuple[dict[int, int], Plan]:
    chosen = RAW if force_raw or include_bots else plan(edges, filters)
    grain, inner = chosen.granularity, chosen.rollup_edges
    if grain is not None and (
        chosen.key is None
        or await queries.rollup_covers(conn, project, event, chosen.key, grain, inner)
    ):
        if chosen.raw_edges:
            values = await queries.rollup_and_raw_parts(
                conn, project, event, metric, grain, edges, inner, chosen.key, filters
            )
        else:
            values = await queries.rollup_parts(
                conn, project, event, metric, grain, edges, chosen.key, filters
            )
        return values, chosen
    values = await queries.raw_parts(conn, project, event, metric, edges, filters, include_bots)
    return values, RAW


async def timeseries(
    conn: AsyncConnection, project: str, q: Timeseries, force_raw: bool = False
) -> tuple[Answer, Plan]:
    labels, edges = buckets(q.range, q.interval, q.timezone)
    values, used = await _parts(
        conn, project, q.event, q.metric, edges, q.filters, force_raw, q.include_bots
    )
    data = [
        {"t": t, "value": values.get(i, 0)} for i, t in enumerate(labels_in(labels, q.timezone))
    ]
    answer = {"type": "timeseries", "interval": q.interval, "timezone": q.timezone, "data": data}
    return answer, used


async def metric(
    conn: AsyncConnection, project: str, q: MetricQuery, force_raw: bool = False
) -> tuple[Answer, Plan]:
    # Two reads, so each period's own edges decide whether it needs raw slivers.
    previous = q.range.previous()
    args = (q.event, q.metric)
    now, used = await _parts(
        conn, project, *args, [q.range.start, q.range.end], q.filters, force_raw, q.include_bots
    )
    before, _ = await _parts(
        conn,
        project,
        *args,
        [previous.start, previous.end],
        q.filters,
        force_raw,
        q.include_bots,
    )
    return {"type": "metric", "value": now.get(0, 0), "previous": before.get(0, 0)}, used


def top(groups: Sequence[tuple[str | None, int]], limit: int) -> list[tuple[str | None, int]]:
    """The ``limit`` largest groups; ties by key (no value last) so answers are stable."""
    ranked = sorted(groups, key=lambda g: (-g[1], g[0] is None, g[0] or ""))
    return ranked[:limit]


async def breakdown(
    conn: AsyncConnection, project: str, q: Breakdown, force_raw: bool = False
) -> tuple[Answer, Plan]:
    edges = [q.range.start, q.range.end]
    chosen = RAW if force_raw or q.include_bots else plan(edges, q.filters, q.breakdown)
    grain = chosen.granularity
    if grain is None or not await queries.rollup_covers(
        conn, project, q.event, q.breakdown, grain, edges
    ):
        chosen, grain = RAW, None

    async def groups(excluded: Sequence[str | None] | None) -> list[tuple[str | None, int]]:
        if grain is not None:
            return await queries.rollup_groups(
                conn, project, q.event, q.metric, grain, edges, q.breakdown, q.filters, excluded
            )
        return await queries.raw_groups(
            conn,
            project,
            q.event,
            q.metric,
            edges,
            q.breakdown,
            q.filters,
            excluded,
            q.include_bots,
        )

    every = await groups(None)
    best = top(every, q.limit)
    if len(best) == len(every):
        other = 0
    elif q.metric == "count":
        other = sum(n for _, n in every) - sum(n for _, n in best)
    else:
        rest = await groups([k for k, _ in best])
        other = rest[0][1] if rest else 0
    data = [{"key": k, "value": n} for k, n in best]
    return {"type": "breakdown", "breakdown": q.breakdown, "data": data, "other": other}, chosen
