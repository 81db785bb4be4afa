"""Retention over the raw events: first-time cohorts of persons, and who came back when.

The range is cut into the query's periods in its timezone (``timebuckets.buckets``: local
days, ISO weeks from Monday, months from the 1st; a DST day is 23 or 25 hours), the first
and last clipped by the range as a timeseries' are. A person's cohort is the period of
their first ``startEvent`` in the range ("first time" retention, as PostHog and Amplitude
call it: events before the range are not read, so a person's first event there counts as
their first). ``returned[k]`` counts the cohort's persons who did ``returnEvent`` at
least once in the (k+1)-th period after the cohort's, so row i of the triangle has one
value per period left before the range's end. The cohort's own period is its ``size``,
not a return; a return event before the first start event cannot fall in a later period.

Persons are merged ids; bots are left out unless included (``persons.py``). One
statement, cheap at a million events because the rows are folded before anything joins:
per distinct id, the first start period and a bit mask of the return periods (at most
MAX_PERIODS <= 63 periods fit a bigint), one hash aggregation over an index range scan of
``(project_id, event, ts)``; then per person (ids joined to their aliases, few rows by
now) the earliest cohort and the OR of the masks; then each cohort's persons and, for
each later period, those whose mask has its bit.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from query_api.conditions import raw_filters
from query_api.database import ANALYTICS_SETTINGS, set_local
from query_api.model import Retention
from query_api.persons import ALIASES, PERSON, bots_condition
from query_api.queries import edge_array
from query_api.timebuckets import buckets, labels_in

RETENTION_SQL = f"""
SELECT c, k, count(*) FROM (
    SELECT {PERSON} AS person, min(e.c) AS c, bit_or(e.mask) AS mask
    FROM (
        SELECT distinct_id, project_id,
               min(period) FILTER (WHERE event = %s) AS c,
               bit_or(1::bigint << period) FILTER (WHERE event = %s) AS mask
        FROM (
            SELECT distinct_id, project_id, event,
                   width_bucket(ts, %s::timestamptz[]) - 1 AS period
            FROM events
            WHERE project_id = %s AND ts >= %s AND ts < %s AND event = ANY(%s::text[])
              AND {{bots}} AND ({{filters}})
        ) r
        GROUP BY distinct_id, project_id
    ) e {ALIASES}
    GROUP BY 1
) p, generate_series(0, %s - 1 - p.c) k
WHERE p.c IS NOT NULL AND (k = 0 OR (p.mask & (1::bigint << (p.c + k)::int)) <> 0)
GROUP BY c, k
"""  # noqa: S608 - constant SQL text, values bound


def retention_statement(q: Retention, project: str) -> tuple[str, list[Any], list[datetime]]:
    """(SQL, parameters, the periods' labels)."""
    labels, edges = buckets(q.range, q.interval, q.timezone)
    where, values = raw_filters(q.filters)
    sql = RETENTION_SQL.replace("{bots}", bots_condition(q.include_bots))
    sql = sql.replace("{filters}", where)
    events = sorted({q.start_event, q.return_event})
    params = [q.start_event, q.return_event, edge_array(edges), project, edges[0], edges[-1]]
    return sql, [*params, events, *values, len(labels)], labels


def cohorts(
    labels: Sequence[datetime], timezone: str, rows: Sequence[tuple[int, int, int]]
) -> list[dict[str, Any]]:
    """The triangle from (cohort period, k, persons) rows (k = 0: the cohort's size; k >= 1:
    returned[k - 1]). Every period is a row, an empty one too, so the triangle is whole."""
    count = len(labels)
    sizes = [0] * count
    returned = [[0] * (count - 1 - c) for c in range(count)]
    for c, k, persons in rows:
        if k == 0:
            sizes[c] = persons
        else:
            returned[c][k - 1] = persons
    starts = labels_in(labels, timezone)
    return [{"start": starts[c], "size": sizes[c], "returned": returned[c]} for c in range(count)]


async def retention(conn: AsyncConnection, project: str, q: Retention) -> dict[str, Any]:
    sql, params, labels = retention_statement(q, project)
    async with conn.transaction():
        await set_local(conn, ANALYTICS_SETTINGS)
        cursor = await conn.execute(sql, params)
        found = await cursor.fetchall()
    rows = [(int(c), int(k), int(n)) for c, k, n in found]
    return {
        "type": "retention",
        "interval": q.interval,
        "timezone": q.timezone,
        "cohorts": cohorts(labels, q.timezone, rows),
    }
