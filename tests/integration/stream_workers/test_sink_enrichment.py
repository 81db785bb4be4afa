"""Enrichment and crawlers through the sink, against real PostgreSQL and Redis (issue 18).

A browser's events get their properties in the raw rows and the breakdown rollups; a
crawler's are raw rows (``$bot``) and usage, in no rollup, counted exactly once in
``bot_events``; the client's address is in no PostgreSQL table.
"""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from stream_workers.decisions import month_start
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
ADDRESS = "81.2.69.160"  # GB
URL = "https://shop.example/pricing?utm_source=newsletter&utm_medium=email"


def page(project: str, user: str, agent: str, ts: datetime, **extra: Any) -> Any:
    r = record(project, "$pageview", ts, user, properties={"$url": URL}, **extra)
    return replace(r, context={"userAgent": agent, "ip": ADDRESS})


def breakdown(conn: psycopg.Connection[Any], project: str, key: str) -> dict[str | None, int]:
    rows = conn.execute(
        "SELECT value, sum(events) FROM breakdown_rollups WHERE project_id = %s AND key = %s"
        " AND granularity = 'day' GROUP BY value",
        (project, key),
    ).fetchall()
    return {value: int(n) for value, n in rows}


async def test_browser_events_are_enriched_and_crawlers_kept_out_of_rollups(
    sink, make_project, database
):
    p = await make_project()
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    people = [page(p, f"u{n}", CHROME, ts) for n in range(5)]
    bots = [page(p, f"bot{n}", GOOGLEBOT, ts, insert_id=f"b{n}") for n in range(3)]
    repeat = replace(bots[0], id=str(uuid.uuid4()))  # a client's retry: the same insertId
    raws = as_raw([*people, *bots, repeat])
    result = await sink.apply(raws)
    assert (result.applied, result.duplicates) == (8, 1)
    again = await sink.apply(raws)  # re-delivered: nothing moves
    assert again.applied == 0

    with psycopg.connect(database) as conn:
        raw = conn.execute(
            "SELECT distinct_id, properties, context FROM events WHERE project_id = %s", (p,)
        ).fetchall()
        assert len(raw) == 8
        for distinct_id, properties, context in raw:
            assert "ip" not in context and context["userAgent"]
            assert properties["$country"] == "GB"
            assert properties["$channel"] == "email"
            assert properties["utm_source"] == "newsletter"
            if distinct_id.startswith("bot"):
                assert properties["$bot"] is True
            else:
                assert "$bot" not in properties
                assert properties["$browser"] == "Chrome"
                assert properties["$os"] == "Windows"
                assert properties["$deviceType"] == "desktop"

        # Rollups and breakdowns hold the five browser events only.
        (events,) = conn.execute(
            "SELECT sum(events) FROM rollups WHERE project_id = %s AND granularity = 'day'",
            (p,),
        ).fetchone() or (None,)
        assert events == 5
        assert breakdown(conn, p, "$browser") == {"Chrome": 5}
        assert breakdown(conn, p, "$os") == {"Windows": 5}
        assert breakdown(conn, p, "$deviceType") == {"desktop": 5}
        assert breakdown(conn, p, "$country") == {"GB": 5}
        assert breakdown(conn, p, "$channel") == {"email": 5}
        assert breakdown(conn, p, "utm_source") == {"newsletter": 5}

        # Usage counts every event, crawlers too; bot_events the crawlers', once.
        month = month_start(datetime.now(UTC))
        assert conn.execute(
            "SELECT used FROM usage_months WHERE project_id = %s AND month = %s", (p, month)
        ).fetchone() == (8,)
        assert conn.execute(
            "SELECT events FROM bot_events WHERE project_id = %s AND month = %s", (p, month)
        ).fetchone() == (3,)


async def test_the_address_is_in_no_table(sink, make_project, database):
    p = await make_project()
    ts = datetime.now(UTC).replace(microsecond=0)
    await sink.apply(as_raw([page(p, "u1", CHROME, ts), page(p, "b1", GOOGLEBOT, ts)]))
    with psycopg.connect(database) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema = current_schema()"
        ).fetchall()
        assert any(name == "events" for _, name in tables)
        for schema, name in tables:
            found = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}.{} t WHERE t::text LIKE %s").format(
                    psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
                ),
                (f"%{ADDRESS}%",),
            ).fetchone()
            assert found == (0,), f"{schema}.{name} holds the address"
