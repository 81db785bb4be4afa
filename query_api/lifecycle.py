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
from query_api.database import ANALYTICS_SETTINGS, set_local
from query_api.model import Lifecycle, Period, Range
from query_api.persons import ALIASES, PERSON, bots_condition
from query_api.queries import edge_array
from query_api.timebuckets import buckets, labels_in

# Bits of a person's mask: 0 is the period before the range's first, 1..n the range's
# periods (n <= MAX_PERIODS, so they fit a bigint). Folded per distinct id first (one hash
# aggregation over an index range scan of (project_id, event, ts)), then per person (the
# ids joined to their aliases: few rows by then), then read bit by bit for each period.
LIFECYCLE_SQL = f"""
SELECT i,
       count(*) FILTER (WHERE act AND NOT seen AND mask & ((1::bigint << i) - 1) = 0),
       count(*) FILTER (WHERE act AND was),
       count(*) FILTER (
           WHERE act AND NOT was AND (seen OR mask & ((1::bigint << i) - 1) <> 0)),
       count(*) FILTER (WHERE was AND NOT act)
FROM (
    SELECT i, seen, mask, (mask >> i) & 1 = 1 AS act, (mask >> (i - 1)) & 1 = 1 AS was
    FROM (
        SELECT {PERSON} AS person, bool_or(e.seen) AS seen, bit_or(e.mask) AS mask
        FROM (
            SELECT distinct_id, project_id, bool_or(ts < %s) AS seen,
                   coalesce(bit_or(1::bigint << (width_bucket(ts, %s::timestamptz[]) - 1))
                       FILTER (WHERE ts >= %s), 0) AS mask
            FROM events
            WHERE project_id = %s AND event = %s AND ts < %s AND {{bots}} AND ({{filters}})
            GROUP BY distinct_id, project_id
        ) e {ALIASES}
        GROUP BY 1
    ) p, generate_series(1, %s) i
) x
WHERE act OR was
GROUP BY i
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
    params = [before, edge_array([before, *edges]), before, project, q.event, edges[-1]]
    return sql, [*params, *values, len(labels)], labels


def periods(
    labels: Sequence[datetime], timezone: str, rows: Sequence[Sequence[int]]
) -> list[dict[str, Any]]:
    """One point per period from (period 1..n, new, returning, resurrecting, dormant) rows."""
    counts = [[0] * len(STATES) for _ in labels]
    for part, *values in rows:
        counts[part - 1] = [a + b for a, b in zip(counts[part - 1], values, strict=True)]
    starts = labels_in(labels, timezone)
    return [
        {"t": t, **dict(zip(STATES, c, strict=True))} for t, c in zip(starts, counts, strict=True)
    ]


async def lifecycle(conn: AsyncConnection, project: str, q: Lifecycle) -> dict[str, Any]:
    sql, params, labels = lifecycle_statement(q, project)
    async with conn.transaction():
        await set_local(conn, ANALYTICS_SETTINGS)
        cursor = await conn.execute(sql, params)
        found = await cursor.fetchall()
    rows = [tuple(int(v) for v in row) for row in found]
    return {
        "type": "lifecycle",
        "event": q.event,
        "interval": q.interval,
        "timezone": q.timezone,
        "data": periods(labels, q.timezone, rows),
    }
