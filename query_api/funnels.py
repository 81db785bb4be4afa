"""Funnels in SQL over the raw events, with ClickHouse ``windowFunnel`` semantics.

Users are persons (``persons.py``): a merged id's events count as its person's, so a
person who did step 1 as anonymous and step 2 after logging in converts. Bots' events are
left out unless the query includes them.

A user reaches step k when, after one of their step-1 events at ``t1``, they did steps
2..k in order, each strictly later than the previous and all at most the conversion window
after ``t1``; the furthest step over all their step-1 events counts, and of those the
earliest ``t1`` gives the times to convert. Events outside the date range are not read.

One statement, whose text depends only on the numbers of steps and of slices (every event
name, key, value, bound and the window are bound parameters):

1. Each person's events of the range come in (person, time) order — for an id in no
   merge (most), the order of the per-user index ``(project_id, distinct_id, ts, event)``
   (migration 0041), for the ids in a merge (few) sorted by person — and a sorted
   aggregation folds them into one array of timestamps per step, in time order (the
   aggregate reads its sorted subquery in order).
2. From every step-1 time the greedy chain follows: ``t_k`` is the first step-k time
   strictly after ``t_(k-1)`` (``width_bucket`` on the sorted array is the number of
   elements <= t, so the element after them is the first one strictly later). For a fixed
   ``t1`` the earliest next event is optimal. The chain is followed regardless of the
   window; it rises, so the steps within ``t1 + window`` are a prefix and count as levels.
3. Per user, the chain with the highest level and then the earliest ``t1``: one ``min``
   over ``[level key, t1, ..., tn]``. A user without any step-2 event is at level 1 from
   any of their step-1 events, so only one of those is followed.
4. The ids in no merge are cut into slices by ranges of ``distinct_id`` (bounds are
   quantiles of a small block sample); each slice is one branch of a ``UNION ALL``, and
   the merged persons one more, which PostgreSQL runs side by side in parallel workers
   (Parallel Append), each slice reading only its part of the index. Any bounds give the
   same answer: the branches always partition the persons.

Layers are subqueries with ``OFFSET NULL``: that keeps the planner from inlining one
layer's expressions into the next (each ``t_k`` would be evaluated once per later use,
doubling with every step), and, unlike ``OFFSET 0``, it still lets the branch run in a
parallel worker.
"""

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from query_api.conditions import conjunction, raw_filters
from query_api.model import Funnel
from query_api.persons import ALIASES, BOT_ROW, PERSON, bots_condition

# Set for the funnel's own transaction only.
FUNNEL_SETTINGS: tuple[tuple[str, str], ...] = (
    ("work_mem", "64MB"),
    # Compiling the (large, generated) expressions costs more than it saves: ~0.3 s.
    ("jit", "off"),
    # The slice bounds and the range decide the plan; a generic plan would not know them.
    ("plan_cache_mode", "force_custom_plan"),
)
# Percent of the range's table blocks read to choose slice bounds (a 1M-event month: ~1 ms).
SAMPLE_PERCENT = 0.1

_SAMPLE = (
    "SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY distinct_id)"
    " FROM events TABLESAMPLE SYSTEM (%s) REPEATABLE (0)"
    " WHERE project_id = %s AND ts >= %s AND ts < %s AND event = ANY(%s::text[])"
)
_FIRST, _MIDDLE, _LAST = (
    "distinct_id < %s::text",
    "distinct_id >= %s::text AND distinct_id < %s::text",
    "distinct_id >= %s::text",
)
# Every id in a merge: merged ids and the persons they were merged into. Parameters:
# project, project. NOT IN over it is a hashed subplan, a filter that keeps the slices'
# rows in the index's (distinct_id, ts) order.
_MERGED_IDS = (
    "SELECT distinct_id FROM person_aliases WHERE project_id = %s"
    " UNION ALL SELECT person FROM person_aliases WHERE project_id = %s"
)
# The same ids once each (a person is named by each id merged into it), to join events to.
_MERGED = f"SELECT DISTINCT distinct_id AS id FROM ({_MERGED_IDS}) ids"  # noqa: S608 - constant
_RANGE = "ts >= %s AND ts < %s AND event = ANY(%s::text[]) AND ({global_filters})"
# A slice of the ids in no merge (each one a person of its own), read in the per-user
# index's order; and every id in a merge, as its person, sorted (few rows).
_SLICE_SCAN = (
    "SELECT distinct_id, ts, {flags} FROM events WHERE project_id = %s AND "  # noqa: S608 - constant SQL text, values bound
    f"{_RANGE} AND {{slice}} AND distinct_id NOT IN ({_MERGED_IDS})"
    " AND {bots:distinct_id, ts, event} ORDER BY distinct_id, ts"
)
_MERGED_SCAN = (
    f"SELECT {PERSON} AS distinct_id, ts, {{flags}} FROM ({_MERGED}) m"  # noqa: S608 - constant SQL text, values bound
    f" JOIN events e ON e.project_id = %s AND e.distinct_id = m.id {ALIASES}"
    f" WHERE {_RANGE} AND {{bots:merged}} ORDER BY 1, ts"
)
# Without filters a funnel needs only (distinct_id, ts, event) of a row, all in the
# per-user index: reading each row's properties for the bot flag would cost it its
# index-only scans (a 1M-event funnel: 1.1 s became 3 s). So bots are left out by key
# instead: the (distinct_id, ts, event) of the range's bot rows (a partial index holds
# them, migration 0041) whose every row is a bot's. Rows of one key are the same to a
# funnel, so a key with a row of a person stays, and one with only bots' rows goes.
# Parameters: project, range, events, project.
# (A join, not a correlated subquery: that would keep the branches from parallel workers.)
_BOT_ONLY_KEYS = (
    "SELECT k.distinct_id, k.ts, k.event FROM (SELECT distinct_id, ts, event, count(*) AS n"  # noqa: S608 - constant SQL text
    " FROM events b WHERE b.project_id = %s AND b.ts >= %s AND b.ts < %s"
    f" AND b.event = ANY(%s::text[]) AND {BOT_ROW.replace('properties', 'b.properties')}"
    " GROUP BY 1, 2, 3) k JOIN events o ON o.project_id = %s AND o.distinct_id = k.distinct_id"
    " AND o.ts = k.ts AND o.event = k.event GROUP BY 1, 2, 3, k.n HAVING count(*) = k.n"
)


def _slice_conditions(slices: int) -> list[str]:
    if slices == 1:
        return ["true"]
    return [_FIRST, *[_MIDDLE] * (slices - 2), _LAST]


def _branch(steps: int, slice_condition: str | None) -> str:
    """One slice's persons (``slice_condition`` None: the merged ones): ``level`` and the
    seconds of each step of their best chain."""
    flags = ", ".join(f"(event = %s AND ({{f{k}}})) AS s{k}" for k in range(1, steps + 1))
    if slice_condition is None:
        scan = _MERGED_SCAN.replace("{flags}", flags)
    else:
        scan = _SLICE_SCAN.replace("{flags}", flags).replace("{slice}", slice_condition)
    arrays = ", ".join(f"array_agg(ts) FILTER (WHERE s{k}) AS a{k}" for k in range(1, steps + 1))
    users = (
        f"SELECT distinct_id, {arrays} FROM ({scan}) ev"  # noqa: S608 - step numbers only
        " GROUP BY distinct_id HAVING bool_or(s1)"
    )
    later = ", ".join(f"a{k}" for k in range(2, steps + 1))
    chain = (
        f"SELECT distinct_id, {later}, t1, t1 + %s::interval AS lim FROM ({users}) u,"  # noqa: S608 - step numbers only
        " unnest(CASE WHEN u.a2 IS NULL THEN u.a1[1:1] ELSE u.a1 END) AS t1 OFFSET NULL"
    )
    for k in range(2, steps + 1):
        kept = [*(f"a{j}" for j in range(k + 1, steps + 1)), *(f"t{j}" for j in range(1, k))]
        chain = (
            f"SELECT distinct_id, {', '.join(kept)}, lim,"  # noqa: S608 - step numbers only
            f" a{k}[width_bucket(t{k - 1}, a{k}) + 1] AS t{k} FROM ({chain}) c{k} OFFSET NULL"
        )
    times = ", ".join(f"t{k}" for k in range(1, steps + 1))
    level = " + ".join(["1", *(f"((t{k} <= lim) IS TRUE)::int" for k in range(2, steps + 1))])
    ranked = f"SELECT distinct_id, {times}, {level} AS level FROM ({chain}) c OFFSET NULL"  # noqa: S608 - step numbers only
    # A higher level is an earlier instant (before 1970), so min() takes the highest level,
    # then the earliest t1; equal t1 have equal chains.
    best = (
        f"SELECT max(level) AS level, min(ARRAY[to_timestamp(-level), {times}]) AS chain"  # noqa: S608 - step numbers only
        f" FROM ({ranked}) r GROUP BY distinct_id"
    )
    seconds = ", ".join(
        f"CASE WHEN level >= {k} THEN extract(epoch FROM chain[{k + 1}] - chain[{k}]) END AS d{k}"
        for k in range(2, steps + 1)
    )
    return f"SELECT level, {seconds} FROM ({best}) b"  # noqa: S608 - step numbers only


def funnel_sql(steps: int, slices: int = 1) -> str:
    """The statement for ``steps`` steps (2..10) over ``slices`` slices of the users.

    Parameters in ``funnel_statement`` order: per branch, the window, the step events and
    filters, project, range, events, global filters, then the branch's slice bounds, and
    the project twice (the merged ids); the last branch is the merged persons'.
    """
    conditions: list[str | None] = [*_slice_conditions(slices), None]
    branches = " UNION ALL ".join(_branch(steps, c) for c in conditions)
    counts = ", ".join(f"count(*) FILTER (WHERE level >= {k})" for k in range(1, steps + 1))
    medians = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY d{k})" for k in range(2, steps + 1)
    )
    return f"SELECT {counts}, {medians} FROM ({branches}) c"  # noqa: S608 - step numbers only


def _slice_params(bounds: Sequence[str], index: int) -> list[str]:
    if not bounds:
        return []
    if index == 0:
        return [bounds[0]]
    if index == len(bounds):
        return [bounds[-1]]
    return [bounds[index - 1], bounds[index]]


def funnel_statement(q: Funnel, project: str, bounds: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """SQL and parameters; ``bounds`` (ascending in the column's collation) cut the users
    into ``len(bounds) + 1`` slices."""
    sql = funnel_sql(len(q.steps), len(bounds) + 1)
    step_texts: dict[str, str] = {}
    steps: list[Any] = []
    for k, step in enumerate(q.steps, start=1):
        text, values = raw_filters(step.filters)
        step_texts[f"f{k}"] = text
        steps += [step.event, *values]
    filtered = bool(q.filters) or any(step.filters for step in q.steps)
    by_key = not q.include_bots and not filtered
    row_bots = bots_condition(q.include_bots or by_key)
    global_text, global_values = conjunction([raw_filters(q.filters), (row_bots, [])])
    rows = [q.range.start, q.range.end, _events(q), *global_values]
    bots = [project, q.range.start, q.range.end, _events(q), project] if by_key else []
    params: list[Any] = []
    for index in range(len(bounds) + 1):
        slice_bounds = _slice_params(bounds, index)
        params += [q.window, *steps, project, *rows, *slice_bounds, project, project, *bots]
    params += [q.window, *steps, project, project, project, *rows]
    # Only generated condition texts (constants with %s placeholders) are substituted.
    # The merged persons' rows are few: read, their bot flag costs little (and a subplan
    # over events there would keep the branches from parallel workers).
    by_row = bots_condition(not by_key).replace("properties", "e.properties")
    sql = sql.replace("{bots:merged}", by_row)
    key_text = f"(distinct_id, ts, event) NOT IN ({_BOT_ONLY_KEYS})" if by_key else "true"
    sql = sql.replace("{bots:distinct_id, ts, event}", key_text)
    sql = sql.replace("{global_filters}", global_text)
    for name, text in step_texts.items():
        sql = sql.replace("{" + name + "}", text)
    return sql, params


def _events(q: Funnel) -> list[str]:
    return sorted({s.event for s in q.steps})


async def slice_bounds(conn: AsyncConnection, project: str, q: Funnel, slices: int) -> list[str]:
    """Up to ``slices - 1`` ascending ``distinct_id`` bounds that cut the range's users into
    about equal slices, from a repeatable block sample; none when the sample is empty."""
    if slices < 2:
        return []
    fractions = [k / slices for k in range(1, slices)]
    cursor = await conn.execute(
        _SAMPLE,
        (fractions, SAMPLE_PERCENT, project, q.range.start, q.range.end, _events(q)),
    )
    row = await cursor.fetchone()
    found = row[0] if row and row[0] else []
    # percentile_disc returns them ascending; a small sample may repeat one.
    return [b for b in dict.fromkeys(found) if b is not None]


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


async def funnel(
    conn: AsyncConnection, project: str, q: Funnel, workers: int = 2
) -> dict[str, Any]:
    """The answer, computed by ``workers`` processes (the session's and parallel workers)
    when PostgreSQL has them to spare; ``workers=1`` computes it in this session alone."""
    async with conn.transaction():
        parallel = str(workers if workers > 1 else 0)
        for name, value in (*FUNNEL_SETTINGS, ("max_parallel_workers_per_gather", parallel)):
            await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        bounds = await slice_bounds(conn, project, q, workers)
        sql, params = funnel_statement(q, project, bounds)
        cursor = await conn.execute(sql, params)
        row = await cursor.fetchone()
    return funnel_answer(q, row)


def funnel_answer(q: Funnel, row: Sequence[Any] | None) -> dict[str, Any]:
    """The contract's answer from the statement's row (counts, then medians)."""
    steps = len(q.steps)
    users = [int(n) for n in row[:steps]] if row else [0] * steps
    medians = list(row[steps:]) if row else [None] * (steps - 1)
    events = [s.event for s in q.steps]
    return {"type": "funnel", "steps": conversion_steps(events, users, medians)}
