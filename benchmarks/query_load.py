"""The query benchmarks' bulk load: a migrated schema with one project, its raw ``events``
(monthly partitions, in arrival order, generated in the server) and the rollups the
queries read, and a member's session. Used by ``benchmarks.query_api`` and
``benchmarks.capacity``."""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg
import redis
from psycopg import sql

from contracts.sessions import Session, encode_session, new_token, session_key
from contracts.sketches import HLL_PARAMETERS
from migrations.runner import apply_migrations

PREFIX = "bench:query_api:"
START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 1_000_000
PATHS = [f"/page/{n}" for n in range(30)]

_RAW = """
INSERT INTO events (id, project_id, event, ts, received_at, distinct_id, session_id, properties)
SELECT gen_random_uuid(), %(project)s,
       (ARRAY['$pageview','$pageview','$pageview','signup','purchase'])[1 + (g %% 5)],
       -- in arrival order, as the workers append them, with a few minutes of client jitter
       %(start)s::timestamptz + %(span)s::interval * ((g - 1)::float8 / %(events)s)
           + random() * interval '5 minutes', now(),
       'u' || u, 'u' || u || '-' || (g %% 7),
       jsonb_build_object('$pathname', (%(paths)s::text[])[1 + (hashint8(g) & 1023) %% 30],
                          '$browser', (ARRAY['Chrome','Firefox','Safari'])[1 + (g %% 3)])
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g,
     LATERAL (SELECT (hashint8(g) & 2147483647) %% %(users)s AS u) x
"""

_ROLLUP = f"""
INSERT INTO rollups (project_id, event, granularity, bucket, events, users, sessions)
SELECT project_id, event, %(name)s, date_bin(%(width)s::interval, ts, '1970-01-01 00:00:00+00'),
       count(*), public.hll_add_agg(public.hll_hash_text(distinct_id), {HLL_PARAMETERS}),
       public.hll_add_agg(public.hll_hash_text(session_id), {HLL_PARAMETERS})
FROM events GROUP BY 1, 2, 3, 4
"""

_BREAKDOWN = f"""
INSERT INTO breakdown_rollups
    (project_id, event, key, granularity, bucket, value, events, users, sessions)
SELECT project_id, event, '$pathname', %(name)s,
       date_bin(%(width)s::interval, ts, '1970-01-01 00:00:00+00'),
       left(properties ->> '$pathname', 500), count(*),
       public.hll_add_agg(public.hll_hash_text(distinct_id), {HLL_PARAMETERS}),
       public.hll_add_agg(public.hll_hash_text(session_id), {HLL_PARAMETERS})
FROM events GROUP BY 1, 2, 3, 4, 5, 6
"""

GRAINS = {"minute": "1 minute", "15min": "15 minutes", "hour": "1 hour", "day": "1 day"}


def step(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


def schema_url(database_url: str, schema: str) -> str:
    """The database URL with ``schema`` first on the search path."""
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options=-csearch_path%3D{schema}"


def create_schema(url: str, base_url: str, schema: str, days: int) -> str:
    """A fresh migrated ``schema`` (any old one dropped) with one project and the monthly
    partitions of ``days`` (plus the jitter's month); the project's id."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    apply_migrations(url)
    project = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO projects (id, slug, name, plan, monthly_event_limit)"
            " VALUES (%s, 'bench', 'Bench', 'enterprise', 100000000)",
            (project,),
        )
        month = START
        while month < START + timedelta(days=days + 31):
            following = (month + timedelta(days=32)).replace(day=1)
            conn.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF events FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(f"events_{month:%Y_%m}"),
                    sql.Literal(month),
                    sql.Literal(following),
                )
            )
            month = following
    return project


def load_raw(
    conn: psycopg.Connection[Any], project: str, events: int, users: int, days: int, loaded: int
) -> float:
    """Insert the first ``loaded`` of ``events`` raw events (``generate_series``, in arrival
    order, in chunks of ``CHUNK``); the seconds the inserts took."""
    spent = 0.0
    for first in range(1, loaded + 1, CHUNK):
        last = min(loaded, first + CHUNK - 1)
        params = {
            "project": project,
            "start": START,
            "span": timedelta(days=days),
            "paths": PATHS,
            "users": users,
            "events": events,
            "first": first,
            "last": last,
        }
        started = time.perf_counter()
        step(f"raw rows {first:,}..{last:,}", partial(conn.execute, _RAW, params))
        spent += time.perf_counter() - started
    return spent


def load_rollups(conn: psycopg.Connection[Any]) -> None:
    """The rollups the measured queries read, from the raw events: every granularity, and
    ``$pathname`` breakdowns at hour and day."""
    for name, width in GRAINS.items():
        step(
            f"rollups {name}",
            partial(conn.execute, _ROLLUP, {"name": name, "width": width}),
        )
    for name in ("hour", "day"):
        step(
            f"breakdown_rollups $pathname {name}",
            partial(conn.execute, _BREAKDOWN, {"name": name, "width": GRAINS[name]}),
        )
    step("analyze", lambda: conn.execute("ANALYZE"))


def member(url: str, redis_url: str, prefix: str = PREFIX) -> str:
    user = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM project_members")
        conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user, f"{user}@bench.test"),
        )
        conn.execute(
            "INSERT INTO project_members (project_id, user_id, role)"
            " SELECT id, %s, 'owner' FROM projects WHERE slug = 'bench'",
            (user,),
        )
    cookie = new_token()
    with redis.Redis.from_url(redis_url) as client:
        session = Session(user, f"{user}@bench.test", datetime.now(UTC))
        client.set(session_key(prefix, cookie), encode_session(session), ex=3600)
    return cookie
