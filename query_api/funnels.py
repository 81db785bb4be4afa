"""Funnels in SQL over the raw events, with ClickHouse ``windowFunnel`` semantics.

A user reaches step k when, after one of their step-1 events at ``t1``, they did steps
2..k in order, each strictly later than the previous and all at most the conversion window
after ``t1``; the furthest step over all their step-1 events counts. For a fixed ``t1`` the
earliest next event of each step is optimal, so each user's step timestamps are gathered
into sorted arrays and the chain is followed with ``width_bucket`` (a binary search: the
number of elements <= t, so the element after them is the first one strictly later).
Of a user's best chains the earliest-starting one gives the times to convert. Every
event name, key and value is a bound parameter; the SQL text depends only on the number
of steps. Events outside the date range are not read.
"""

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from query_api.conditions import raw_filters
from query_api.model import Funnel

FUNNEL_WORK_MEM = "64MB"


def funnel_sql(steps: int) -> str:
    """The statement for ``steps`` steps (2..10); parameters in ``funnel_params`` order.

    Users' events are grouped by hashing (no sort of the whole range); each user's step-k
    timestamps (k >= 2) are then sorted within the user, and the user's best chain is a
    top-1 of their own chains, so nothing the size of the range is ever sorted.
    """
    flags = ", ".join(f"(event = %s AND ({{f{k}}})) AS s{k}" for k in range(1, steps + 1))
    arrays = ", ".join(
        [
            "array_agg(ts) FILTER (WHERE s1) AS a1",
            *(
                f"ARRAY(SELECT x FROM unnest(array_agg(ts) FILTER (WHERE s{k})) x ORDER BY x)"  # noqa: S608 - step numbers only, values bound
                f" AS a{k}"
                for k in range(2, steps + 1)
            ),
        ]
    )
    chain = " ".join(
        f"CROSS JOIN LATERAL (SELECT CASE WHEN x <= t1 + %s::interval THEN x END AS t{k}"  # noqa: S608 - step numbers only, values bound
        f" FROM (SELECT u.a{k}[width_bucket(t{k - 1}, u.a{k}) + 1] AS x) y) l{k}"
        for k in range(2, steps + 1)
    )
    level = " + ".join(["1", *(f"(t{k} IS NOT NULL)::int" for k in range(2, steps + 1))])
    times = ", ".join(f"t{k}" for k in range(1, steps + 1))
    counts = ", ".join(f"count(*) FILTER (WHERE level >= {k})" for k in range(1, steps + 1))
    medians = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t{k} - t{k - 1}))"
        for k in range(2, steps + 1)
    )
    return (
        f"WITH ev AS (SELECT distinct_id, ts, {flags} FROM events"  # noqa: S608 - step numbers only, values bound
        " WHERE project_id = %s AND ts >= %s AND ts < %s AND event = ANY(%s::text[])"
        " AND ({global_filters})),"
        f" u AS (SELECT distinct_id, {arrays} FROM ev GROUP BY distinct_id HAVING bool_or(s1)),"
        f" c AS (SELECT best.* FROM u CROSS JOIN LATERAL (SELECT {times}, {level} AS level"
        f" FROM unnest(u.a1) AS t1 {chain} ORDER BY level DESC, t1 LIMIT 1) best)"
        f" SELECT {counts}, {medians} FROM c"
    )


def funnel_statement(q: Funnel, project: str) -> tuple[str, list[Any]]:
    template = funnel_sql(len(q.steps))
    step_texts: dict[str, str] = {}
    params: list[Any] = []
    for k, step in enumerate(q.steps, start=1):
        text, values = raw_filters(step.filters)
        step_texts[f"f{k}"] = text
        params += [step.event, *values]
    global_text, global_values = raw_filters(q.filters)
    params += [project, q.range.start, q.range.end, sorted({s.event for s in q.steps})]
    params += global_values
    params += [q.window] * (len(q.steps) - 1)
    # Only generated condition texts (constants with %s placeholders) are substituted.
    sql = template.replace("{global_filters}", global_text)
    for name, text in step_texts.items():
        sql = sql.replace("{" + name + "}", text)
    return sql, params


def conversion_steps(
    events: Sequence[str], users: Sequence[int], medians: Sequence[float | None]
) -> list[dict[str, Any]]:
    """The contract's per-step rows from the counts and the medians of steps 2..n."""
    rows = []
    for k, (event, count) in enumerate(zip(events, users, strict=True)):
        first, previous = users[0], users[k - 1] if k else count
        rows.append(
            {
                "event": event,
                "users": count,
                "conversionFromFirst": count / first if first else 0.0,
                "conversionFromPrevious": count / previous if previous else 0.0,
                "medianSecondsToConvert": None if k == 0 else _seconds(medians[k - 1]),
            }
        )
    return rows


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


async def funnel(conn: AsyncConnection, project: str, q: Funnel) -> dict[str, Any]:
    sql, params = funnel_statement(q, project)
    async with conn.transaction():
        # Per-user grouping of a large range hashes in memory instead of spilling.
        await conn.execute("SELECT set_config('work_mem', %s, true)", (FUNNEL_WORK_MEM,))
        cursor = await conn.execute(sql, params)
        row = await cursor.fetchone()
    steps = len(q.steps)
    users = [int(n) for n in row[:steps]] if row else [0] * steps
    medians = list(row[steps:]) if row else [None] * (steps - 1)
    events = [s.event for s in q.steps]
    return {"type": "funnel", "steps": conversion_steps(events, users, medians)}
