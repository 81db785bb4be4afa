"""Lifecycle over the raw events: new, returning, resurrecting and dormant persons per period.

PostHog's definition, for one event and the query's periods in its timezone (cut as a
timeseries' are; the first and last clipped by the range). A person is active in a
period when they did the event in it. In each period of the range, an active person is

- ``new``: their first event ever is in this period (the whole raw store before the range
  is read for it: PostHog uses the person's creation, which this store does not have);
- ``returning``: active in the previous period too;
- ``resurrecting``: not active in the previous period, but active at some time before it;

and ``dormant`` counts the persons active in the previous period but not in this one.
For the range's first period, "the previous period" is the one before it in the
timezone, up to the range's start. Dormant is a positive count here (PostHog's API gives
it negative, as its chart draws it below the axis). Persons are merged ids; bots are
left out unless included (``persons.py``).

Chosen over stickiness because it answers the growth meeting's question (are we gaining,
keeping, winning back or losing people) where stickiness only shows how many days the
already-active were active; and each period's four numbers add up: active(i) = new +
returning + resurrecting, active(i - 1) = returning + dormant.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from query_api.conditions import raw_filters
from query_api.model import Lifecycle, Period, Range
from query_api.persons import ALIASES, PERSON, bots_condition
from query_api.queries import edge_array
from query_api.timebuckets import buckets, labels_in

# Parts: 0 is the period before the range's first, 1..n the range's periods.
LIFECYCLE_SQL = f"""
WITH ev AS MATERIALIZED (
    SELECT {PERSON} AS person, ts FROM events e {ALIASES}
    WHERE e.project_id = %s AND event = %s AND ts < %s AND {{bots}} AND ({{filters}})
), earlier AS (
    SELECT DISTINCT person FROM ev WHERE ts < %s
), active AS (
    SELECT DISTINCT person, width_bucket(ts, %s::timestamptz[]) - 1 AS part
    FROM ev WHERE ts >= %s
), marked AS (
    SELECT a.person, a.part, lag(a.part) OVER w AS prev, lead(a.part) OVER w AS next,
           earlier.person IS NOT NULL AS seen
    FROM active a LEFT JOIN earlier USING (person)
    WINDOW w AS (PARTITION BY a.person ORDER BY a.part)
)
SELECT part,
       count(*) FILTER (WHERE prev IS NULL AND NOT seen),
       count(*) FILTER (WHERE prev = part - 1),
       count(*) FILTER (WHERE prev < part - 1 OR (prev IS NULL AND seen)),
       0
FROM marked WHERE part >= 1 GROUP BY part
UNION ALL
SELECT part + 1, 0, 0, 0, count(*) FROM marked
WHERE (next IS NULL OR next > part + 1) AND part + 1 <= %s GROUP BY part
"""  # noqa: S608 - constant SQL text, values bound

STATES = ("new", "returning", "resurrecting", "dormant")
BEFORE = timedelta(milliseconds=1)


def previous_start(first_label: datetime, interval: Period, timezone: str) -> datetime:
    """Where the period before the one starting at ``first_label`` starts, in UTC."""
    labels, _ = buckets(Range(first_label - BEFORE, first_label), interval, timezone)
    return labels[0]


def lifecycle_statement(q: Lifecycle, project: str) -> tuple[str, list[Any], list[datetime]]:
    """(SQL, parameters, the periods' labels)."""
    labels, edges = buckets(q.range, q.interval, q.timezone)
    before = previous_start(labels[0], q.interval, q.timezone)
    where, values = raw_filters(q.filters)
    sql = LIFECYCLE_SQL.replace("{bots}", bots_condition(q.include_bots))
    sql = sql.replace("{filters}", where)
    params = [project, q.event, edges[-1], *values, before, edge_array([before, *edges]), before]
    return sql, [*params, len(labels)], labels


def periods(
    labels: Sequence[datetime], timezone: str, rows: Sequence[Sequence[int]]
) -> list[dict[str, Any]]:
    """One point per period from (part, new, returning, resurrecting, dormant) rows."""
    counts = [[0] * len(STATES) for _ in labels]
    for part, *values in rows:
        counts[part - 1] = [a + b for a, b in zip(counts[part - 1], values, strict=True)]
    starts = labels_in(labels, timezone)
    return [
        {"t": t, **dict(zip(STATES, c, strict=True))} for t, c in zip(starts, counts, strict=True)
    ]


async def lifecycle(conn: AsyncConnection, project: str, q: Lifecycle) -> dict[str, Any]:
    sql, params, labels = lifecycle_statement(q, project)
    cursor = await conn.execute(sql, params)
    rows = [tuple(int(v) for v in row) for row in await cursor.fetchall()]
    return {
        "type": "lifecycle",
        "event": q.event,
        "interval": q.interval,
        "timezone": q.timezone,
        "data": periods(labels, q.timezone, rows),
    }
