"""The projection writes of one batch: the staged records, raw rows, rollups and breakdowns.

Each record is formatted as a line of the staging table's COPY as soon as it arrives
(``staged_row``), so a batch is staged with one ``COPY`` write; the sink then decides
dedup and limits, removes the records it refused, and writes everything else set-based
from the staging table.

Rollups and breakdowns are one statement of ``GROUP BY ... ROLLUP(day, hour, 15min,
minute)`` aggregations: the four granularities nest (all epoch-aligned, each width divides
the next), so one sort of the batch yields every level in one pass, and each row's HLL
hashes are computed once. The previous form cross-joined every row with the four
granularities and sorted four times as many rows (profiled: most of a batch's time; see
the README's Stream workers section). Rows are upserted in key order, so concurrent
workers lock them in one order.
"""

from collections.abc import Mapping, Sequence

import orjson
from psycopg import AsyncConnection
from psycopg._copy_base import format_row_text  # the C formatter behind Copy.write_row
from psycopg.adapt import Transformer

from stream_workers.decoding import Decoded
from stream_workers.rollups import GRANULARITIES, MAX_VALUE_CHARS

# Session-lifetime staging table: rows vanish at commit, the table stays for the next batch.
# (part, pos) is each record's place on the topic, by which refused records are removed.
CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS batch_events (
    part int, pos bigint,
    id uuid, project_id uuid, event text, ts timestamptz, received_at timestamptz,
    distinct_id text, session_id text, properties jsonb, insert_id text, context jsonb
) ON COMMIT DELETE ROWS
"""

COLUMNS = (
    "id, project_id, event, ts, received_at, distinct_id, session_id, properties,"
    " insert_id, context"
)

_STAGE = f"COPY batch_events (part, pos, {COLUMNS}) FROM STDIN"

_UNSTAGE = (
    "DELETE FROM batch_events b USING unnest(%s::int[], %s::bigint[]) r(part, pos)"
    " WHERE b.part = r.part AND b.pos = r.pos"
)

_TRANSFORMER = Transformer()


def staged_row(partition: int, offset: int, r: Decoded) -> bytes:
    """The record as one line of the staging table's text COPY (psycopg's own C
    formatter; the times as the ISO 8601 text decoding kept)."""
    dumps = orjson.dumps
    row = (
        partition,
        offset,
        r.id,
        r.project_id,
        r.event,
        r.timestamp_text,
        r.received_text,
        r.distinct_id,
        r.session_id,
        dumps(r.properties).decode(),
        r.insert_id,
        dumps(r.context).decode(),
    )
    line = bytearray()
    format_row_text(row, _TRANSFORMER, line)
    return bytes(line)


async def stage(conn: AsyncConnection, lines: Sequence[bytes]) -> None:
    """Copy the batch's records (``staged_row`` lines) into the staging table."""
    async with conn.cursor() as cursor, cursor.copy(_STAGE) as copy:
        await copy.write(b"".join(lines))


async def unstage(conn: AsyncConnection, positions: Sequence[tuple[int, int]]) -> None:
    """Remove refused records (duplicates, over the limit) from the staging table."""
    if positions:
        await conn.execute(_UNSTAGE, ([p for p, _ in positions], [o for _, o in positions]))


_INSERT_RAW = f"INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM batch_events"  # noqa: S608 - constant column list

# Finest first, as GRANULARITIES lists them; GROUPING(d, h, q, m) of each level's rows.
LEVEL_GROUPING = (0, 1, 3, 7)

# date_bin from the Unix epoch: the same buckets as contracts.buckets.bucket_start.
_BINS = """
    date_bin(%(w3)s::interval, b.ts, '1970-01-01 00:00:00+00') AS d,
    date_bin(%(w2)s::interval, b.ts, '1970-01-01 00:00:00+00') AS h,
    date_bin(%(w1)s::interval, b.ts, '1970-01-01 00:00:00+00') AS q,
    date_bin(%(w0)s::interval, b.ts, '1970-01-01 00:00:00+00') AS m,
    public.hll_hash_text(b.distinct_id) AS uh, public.hll_hash_text(b.session_id) AS sh"""

_LEVELS = """
    count(*) AS n, public.hll_add_agg(uh, 17, 5) AS u, public.hll_add_agg(sh, 17, 5) AS s,
    GROUPING(d, h, q, m) AS lvl"""

_GRANULARITY = "CASE lvl WHEN 0 THEN %(g0)s WHEN 1 THEN %(g1)s WHEN 3 THEN %(g2)s ELSE %(g3)s END"
_BUCKET = "CASE lvl WHEN 0 THEN m WHEN 1 THEN q WHEN 3 THEN h ELSE d END"

_MERGE = """
    events = r.events + EXCLUDED.events,
    users = public.hll_union(r.users, EXCLUDED.users),
    sessions = public.hll_union(r.sessions, EXCLUDED.sessions)"""

# Rollups and breakdowns in one statement. A (project, event, key) of the batch where no
# event has the key has one breakdown value, null, whose rows are exactly the rollup rows
# (same events, same hashes: HLL sketches do not depend on insertion order), so they are
# copied from the rollup aggregation instead of aggregated again; only keys some event of
# that (project, event) has are aggregated by value. ->> renders the value as text
# (strings bare, other JSON as JSON, null/absent as NULL).
_AGGREGATES = f"""
WITH keys AS (
    SELECT * FROM unnest(%(key_projects)s::uuid[], %(keys)s::text[]) k(project_id, key)
),
totals AS MATERIALIZED (
    SELECT project_id, event, d, h, q, m, {_LEVELS}
    FROM (SELECT b.project_id, b.event, {_BINS} FROM batch_events b) x
    GROUP BY project_id, event, ROLLUP (d, h, q, m) HAVING GROUPING(d) = 0
),
present AS MATERIALIZED (
    SELECT DISTINCT b.project_id, b.event, k.key
    FROM batch_events b JOIN keys k ON k.project_id = b.project_id
    WHERE b.properties ->> k.key IS NOT NULL
),
valued AS (
    SELECT project_id, event, key, value, d, h, q, m, {_LEVELS}
    FROM (
        SELECT b.project_id, b.event, k.key, left(b.properties ->> k.key, %(max_chars)s) AS value,
               {_BINS}
        FROM batch_events b
        JOIN present k ON k.project_id = b.project_id AND k.event = b.event
    ) x
    GROUP BY project_id, event, key, value, ROLLUP (d, h, q, m) HAVING GROUPING(d) = 0
),
absent AS (
    SELECT t.project_id, t.event, k.key, NULL::text AS value, t.d, t.h, t.q, t.m,
           t.n, t.u, t.s, t.lvl
    FROM totals t JOIN keys k ON k.project_id = t.project_id
    WHERE NOT EXISTS (
        SELECT FROM present p
        WHERE p.project_id = t.project_id AND p.event = t.event AND p.key = k.key
    )
),
rolled_up AS (
    INSERT INTO rollups AS r (project_id, event, granularity, bucket, events, users, sessions)
    SELECT project_id, event, {_GRANULARITY}, {_BUCKET}, n, u, s FROM totals
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, event, granularity, bucket) DO UPDATE SET {_MERGE}
)
INSERT INTO breakdown_rollups AS r
    (project_id, event, key, granularity, bucket, value, events, users, sessions)
SELECT project_id, event, key, {_GRANULARITY}, {_BUCKET}, value, n, u, s
FROM (SELECT * FROM valued UNION ALL SELECT * FROM absent) a ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT ON CONSTRAINT breakdown_rollups_key DO UPDATE SET {_MERGE}
"""  # noqa: S608 - constant SQL text, values bound


def level_parameters() -> dict[str, object]:
    """Names and widths of the four nested granularities, finest first."""
    names = list(GRANULARITIES)
    assert len(names) == len(LEVEL_GROUPING), "one ROLLUP level per granularity"
    params: dict[str, object] = {}
    for n, name in enumerate(names):
        params[f"g{n}"] = name
        params[f"w{n}"] = GRANULARITIES[name]
    return params


async def write_events(conn: AsyncConnection, keys: Mapping[str, Sequence[str]]) -> None:
    """Raw rows, rollups and breakdowns of the staged records, set-based."""
    async with conn.cursor() as cursor:
        # The sorts of a large batch stay in memory (the default 4 MB spilled to disk).
        await cursor.execute("SET LOCAL work_mem = '64MB'")
        await cursor.execute(_INSERT_RAW)
        pairs = [(p, k) for p, ks in sorted(keys.items()) for k in ks]
        await cursor.execute(
            _AGGREGATES,
            {
                **level_parameters(),
                "max_chars": MAX_VALUE_CHARS,
                "key_projects": [p for p, _ in pairs],
                "keys": [k for _, k in pairs],
            },
        )
