"""Paths over the raw events: what persons did next (or before) from their first start event.

Each person's events of the range, in order of time (events at the same instant by name,
so the order is defined), start at the person's first ``startEvent`` of the range; the
path is the ``steps`` events after it (``next``) or before it (``previous``), fewer when
the person's events of the range run out. Every event counts, repeats too (a reload is a
step, as it is in PostHog's event paths). Global filters keep or drop events before
they are ordered: a path skips the events they drop.

The answer has the shape PostHog's paths give a Sankey chart: nodes (a step and an
event) and links between nodes of consecutive steps, each counted in persons (a person
follows one path, so each link and node counts them once). At each step the ``limit``
events most persons reached stay nodes of their own; the rest are that step's one
"Other" node (``event: null, other: true``), whose persons' paths go on from it.
Node 0 is the start event; links name nodes by their index in ``nodes``.

Persons are merged ids; bots are left out unless included (``persons.py``). The SQL
counts (step, previous event, event) triples; the top-K and "Other" are folded here,
since a step's node of an event does not depend on the nodes before it.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from query_api.conditions import raw_filters
from query_api.database import ANALYTICS_SETTINGS, set_local
from query_api.model import Paths
from query_api.persons import ALIASES, PERSON, bots_condition

# Per person: the first start event's instant (folded per distinct id first, over an index
# range scan of (project_id, event, ts)); then, for each of the person's ids, the few
# events after (or before) it, read in order from (project_id, distinct_id, ts) with a
# LIMIT; merged, numbered, and linked to the step before. Reading a few rows per id is
# what keeps this from sorting every event of the range: (ts, event) is the order of the
# per-user index (project_id, distinct_id, ts, event) (migration 0041), so each read stops
# after a few entries (and their rows, for the bot flag).
PATHS_SQL = f"""
WITH firsts AS (
    SELECT {PERSON} AS person, min(e.first) AS first
    FROM (
        SELECT distinct_id, project_id, min(ts) AS first FROM events
        WHERE project_id = %s AND event = %s AND ts >= %s AND ts < %s
          AND {{bots}} AND ({{filters}})
        GROUP BY distinct_id, project_id
    ) e {ALIASES}
    GROUP BY 1
), ids AS (
    SELECT person, first, person AS id FROM firsts
    UNION ALL
    SELECT f.person, f.first, a.distinct_id FROM firsts f
    JOIN person_aliases a ON a.project_id = %s AND a.person = f.person
), walked AS (
    SELECT ids.person, x.ts, x.event FROM ids, LATERAL (
        SELECT ts, event FROM events
        WHERE project_id = %s AND distinct_id = ids.id AND ts >= %s AND ts < %s
          AND {{window}} AND {{bots}} AND ({{filters}})
        ORDER BY {{order}} LIMIT %s
    ) x
), numbered AS (
    SELECT row_number() OVER w - %s AS k, lag(event) OVER w AS prev, event FROM walked
    WINDOW w AS (PARTITION BY person ORDER BY {{order}})
)
SELECT k, CASE WHEN k = 1 THEN %s ELSE prev END, event, count(*) FROM numbered
WHERE k BETWEEN 1 AND %s GROUP BY 1, 2, 3
UNION ALL
SELECT 0, NULL, %s, count(*) FROM firsts
"""  # noqa: S608 - constant SQL text, values bound

Row = tuple[int, str | None, str, int]
Node = tuple[int, str | None]  # (step, event); event None: the step's "Other"


# Per direction: which of an id's rows follow (or precede) the person's start event, in
# which order, how many to read per id, and what row_number() less is the step.
_DIRECTIONS = {
    # The start event itself is read too (it is the first of the rows from it on).
    "next": {
        "window": "ts >= ids.first AND (ts, event) >= (ids.first, %s::text)",
        "order": "ts, event",
    },
    "previous": {
        "window": "ts <= ids.first AND (ts, event) < (ids.first, %s::text)",
        "order": "ts DESC, event DESC",
    },
}


def paths_statement(q: Paths, project: str) -> tuple[str, list[Any]]:
    where, values = raw_filters(q.filters)
    sql = PATHS_SQL.replace("{bots}", bots_condition(q.include_bots)).replace("{filters}", where)
    for name, text in _DIRECTIONS[q.direction].items():
        sql = sql.replace("{" + name + "}", text)
    # Rows read per id, and what row_number() less is the step: "next" reads the start
    # event too (it is the first row from it on), "previous" only the rows before it.
    reads, offset = (q.steps + 1, 1) if q.direction == "next" else (q.steps, 0)
    span = [q.range.start, q.range.end]
    firsts = [project, q.start_event, *span, *values]
    rows = [project, *span, q.start_event, *values]
    walked = [project, *rows, reads]
    return sql, [*firsts, *walked, offset, q.start_event, q.steps, q.start_event]


def kept_events(rows: Sequence[Row], limit: int) -> dict[int, list[tuple[str, int]]]:
    """Per step, the ``limit`` events most persons reached (ties by name), with persons."""
    totals: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for k, _, event, persons in rows:
        totals[k][event] += persons
    return {
        k: sorted(by_event.items(), key=lambda item: (-item[1], item[0]))[:limit]
        for k, by_event in totals.items()
    }


def sankey(rows: Sequence[Row], limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(nodes, links) from the (step, previous event, event, persons) rows."""
    kept = kept_events(rows, limit)
    names = {k: {event for event, _ in events} for k, events in kept.items()}

    def node(k: int, event: str | None) -> Node:
        return (k, event if k == 0 or event in names.get(k, ()) else None)

    persons: dict[Node, int] = defaultdict(int)
    flows: dict[tuple[Node, Node], int] = defaultdict(int)
    for k, prev, event, n in rows:
        persons[node(k, event)] += n
        if k > 0:
            flows[(node(k - 1, prev), node(k, event))] += n
    order = sorted(persons, key=lambda v: (v[0], v[1] is None, -persons[v], v[1] or ""))
    index = {v: i for i, v in enumerate(order)}
    nodes = [
        {"step": k, "event": event, "other": event is None, "persons": persons[(k, event)]}
        for k, event in order
    ]
    links = [
        {"source": index[a], "target": index[b], "persons": n}
        for (a, b), n in sorted(flows.items(), key=lambda f: (index[f[0][0]], index[f[0][1]]))
    ]
    return nodes, links


async def paths(conn: AsyncConnection, project: str, q: Paths) -> dict[str, Any]:
    sql, params = paths_statement(q, project)
    async with conn.transaction():
        await set_local(conn, ANALYTICS_SETTINGS)
        cursor = await conn.execute(sql, params)
        found = await cursor.fetchall()
    # Steps count away from the start event in either direction ("previous" walks back).
    rows: list[Row] = [(int(k), p, e, int(n)) for k, p, e, n in found]
    nodes, links = sankey(rows, q.limit)
    return {
        "type": "paths",
        "startEvent": q.start_event,
        "direction": q.direction,
        "timezone": q.timezone,
        "nodes": nodes,
        "links": links,
    }
