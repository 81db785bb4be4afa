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
from query_api.model import Paths
from query_api.persons import ALIASES, PERSON, bots_condition

PATHS_SQL = f"""
WITH ev AS MATERIALIZED (
    SELECT {PERSON} AS person, ts, event FROM events e {ALIASES}
    WHERE e.project_id = %s AND ts >= %s AND ts < %s AND {{bots}} AND ({{filters}})
), starters AS (
    SELECT DISTINCT person FROM ev WHERE event = %s
), ordered AS (
    SELECT person, event, row_number() OVER (PARTITION BY person ORDER BY ts, event) AS n
    FROM ev WHERE person IN (SELECT person FROM starters)
), origin AS (
    SELECT person, min(n) AS s FROM ordered WHERE event = %s GROUP BY person
), walked AS (
    SELECT o.person, (o.n - origin.s) * %s AS k, o.event
    FROM ordered o JOIN origin USING (person)
    WHERE (o.n - origin.s) * %s BETWEEN 0 AND %s
), linked AS (
    SELECT k, lag(event) OVER (PARTITION BY person ORDER BY k) AS prev, event FROM walked
)
SELECT k, prev, event, count(*) FROM linked GROUP BY 1, 2, 3
"""  # noqa: S608 - constant SQL text, values bound

Row = tuple[int, str | None, str, int]
Node = tuple[int, str | None]  # (step, event); event None: the step's "Other"


def paths_statement(q: Paths, project: str) -> tuple[str, list[Any]]:
    where, values = raw_filters(q.filters)
    sql = PATHS_SQL.replace("{bots}", bots_condition(q.include_bots))
    sql = sql.replace("{filters}", where)
    sign = 1 if q.direction == "next" else -1
    params = [project, q.range.start, q.range.end, *values, q.start_event, q.start_event]
    return sql, [*params, sign, sign, q.steps]


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
    cursor = await conn.execute(sql, params)
    # Steps count away from the start event in either direction ("previous" walks back).
    rows: list[Row] = [(int(k), p, e, int(n)) for k, p, e, n in await cursor.fetchall()]
    nodes, links = sankey(rows, q.limit)
    return {
        "type": "paths",
        "startEvent": q.start_event,
        "direction": q.direction,
        "timezone": q.timezone,
        "nodes": nodes,
        "links": links,
    }
