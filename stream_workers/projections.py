"""The projection writes of one batch: the staged records, raw rows, rollups and breakdowns.

Each record is formatted as a line of the staging table's COPY as soon as it arrives
(``staged_row``), so a batch is staged with one ``COPY`` write; the sink then decides
dedup and limits, removes the records it refused, and writes everything else set-based
from the staging table.

Rollups and breakdowns are one statement, which skips crawlers' events (``_NOT_BOT``).
Each row's HLL hashes are added once, into its minute's sketches; each coarser
granularity (15 minutes, hour, day: epoch-aligned, each width dividing the next) is the
union of the sketches one level finer. Adding a hash to an exact (explicit) sketch shifts
its sorted array, so adding every row at all four levels (the previous form, one
``GROUP BY ROLLUP``) spent most of a live batch moving memory: see the README's Stream
workers section. Rows are upserted in key order, so concurrent
workers lock them in one order.
"""

from collections.abc import Mapping, Sequence

import orjson
from psycopg import AsyncConnection
from psycopg._copy_base import format_row_text  # the C formatter behind Copy.write_row
from psycopg.adapt import Transformer

from contracts.sketches import HLL_PARAMETERS
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

_ADD = f"""count(*) AS n,
    public.hll_add_agg(public.hll_hash_text(distinct_id), {HLL_PARAMETERS}) AS u,
    public.hll_add_agg(public.hll_hash_text(session_id), {HLL_PARAMETERS}) AS s"""

_UNION = "sum(n)::bigint AS n, public.hll_union_agg(u) AS u, public.hll_union_agg(s) AS s"

# date_bin from the Unix epoch: the same buckets as contracts.buckets.bucket_start.
_EPOCH = "'1970-01-01 00:00:00+00'"


def _cascade(name: str, keys: Sequence[str], rows: str) -> str:
    """CTEs ``{name}0``, ``{name}1``, ... (one per granularity, finest first) and ``{name}``
    (all of them, with their granularity) of the batch's ``rows`` grouped by ``keys``.

    Only the finest level adds each row's hashes; every coarser level is the union of the
    level below's sketches, which nest (the widths divide each other). So a coarser group
    unions at most 15, 4 or 24 sketches: a union of explicit sketches re-sorts the whole
    set once per input, so unioning every minute of a day at once cost more than adding.
    """
    columns = ", ".join(keys)
    bucket = len(keys) + 1  # the GROUP BY position of the bucket column
    levels = [
        f"""{name}0 AS MATERIALIZED (
    SELECT {columns}, date_bin(%(w0)s::interval, ts, {_EPOCH}) AS bucket, {_ADD}
    FROM ({rows}) x GROUP BY {columns}, {bucket})"""  # noqa: S608 - constant SQL text
    ]
    for n in range(1, len(GRANULARITIES)):
        levels.append(
            f"""{name}{n} AS MATERIALIZED (
    SELECT {columns}, date_bin(%(w{n})s::interval, bucket, {_EPOCH}) AS bucket, {_UNION}
    FROM {name}{n - 1} GROUP BY {columns}, {bucket})"""  # noqa: S608 - constant SQL text
        )
    every = "\n    UNION ALL ".join(
        f"SELECT {columns}, %(g{n})s AS granularity, bucket, n, u, s FROM {name}{n}"  # noqa: S608
        for n in range(len(GRANULARITIES))
    )
    return ",\n".join([*levels, f"{name} AS (\n    {every})"])


# Crawlers' events (``$bot``, stream_workers/enrichment.py) stay in the raw rows and in
# usage, never in a rollup or breakdown: every rollup answer excludes them by construction.
_NOT_BOT = """NOT b.properties @> '{"$bot": true}'"""

_MERGE = """
    events = r.events + EXCLUDED.events,
    users = public.hll_union(r.users, EXCLUDED.users),
    sessions = public.hll_union(r.sessions, EXCLUDED.sessions)"""

_TOTALS = _cascade(
    "totals",
    ("project_id", "event"),
    f"SELECT b.project_id, b.event, b.ts, b.distinct_id, b.session_id FROM batch_events b"  # noqa: S608 - constant SQL text
    f" WHERE {_NOT_BOT}",
)
_VALUED = _cascade(
    "valued",
    ("project_id", "event", "key", "value"),
    f"""SELECT b.project_id, b.event, k.key, left(b.properties ->> k.key, %(max_chars)s) AS value,
           b.ts, b.distinct_id, b.session_id
        FROM batch_events b
        JOIN present k ON k.project_id = b.project_id AND k.event = b.event
        WHERE {_NOT_BOT}""",  # noqa: S608 - constant SQL text
)

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
{_TOTALS},
present AS MATERIALIZED (
    SELECT DISTINCT b.project_id, b.event, k.key
    FROM batch_events b JOIN keys k ON k.project_id = b.project_id
    WHERE b.properties ->> k.key IS NOT NULL AND {_NOT_BOT}
),
{_VALUED},
absent AS (
    SELECT t.project_id, t.event, k.key, NULL::text AS value, t.granularity, t.bucket,
           t.n, t.u, t.s
    FROM totals t JOIN keys k ON k.project_id = t.project_id
    WHERE NOT EXISTS (
        SELECT FROM present p
        WHERE p.project_id = t.project_id AND p.event = t.event AND p.key = k.key
    )
),
rolled_up AS (
    INSERT INTO rollups AS r (project_id, event, granularity, bucket, events, users, sessions)
    SELECT project_id, event, granularity, bucket, n, u, s FROM totals
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, event, granularity, bucket) DO UPDATE SET {_MERGE}
)
INSERT INTO breakdown_rollups AS r
    (project_id, event, key, granularity, bucket, value, events, users, sessions)
SELECT project_id, event, key, granularity, bucket, value, n, u, s
FROM (SELECT * FROM valued UNION ALL SELECT * FROM absent) a ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT ON CONSTRAINT breakdown_rollups_key DO UPDATE SET {_MERGE}
"""  # noqa: S608 - constant SQL text, values bound


def level_parameters() -> dict[str, object]:
    """Names and widths of the nested granularities, finest first."""
    params: dict[str, object] = {}
    for n, name in enumerate(GRANULARITIES):
        params[f"g{n}"] = name
        params[f"w{n}"] = GRANULARITIES[name]
    return params


async def write_events(conn: AsyncConnection, keys: Mapping[str, Sequence[str]]) -> None:
    """Raw rows, rollups and breakdowns of the staged records, set-based."""
    async with conn.cursor() as cursor:
        # The sorts of a large batch stay in memory (the default 4 MB spilled to disk).
        await cursor.execute("SET LOCAL work_mem = '64MB'")
        await cursor.execute(_INSERT_RAW)
    await aggregate(conn, keys)


async def aggregate(conn: AsyncConnection, keys: Mapping[str, Sequence[str]]) -> None:
    """Add the staged records to the rollups and to the breakdowns of ``keys`` (per
    project): the batch's, or a rebuilt slice's (stream_workers/erasure.py)."""
    async with conn.cursor() as cursor:
        await cursor.execute("SET LOCAL work_mem = '64MB'")
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
