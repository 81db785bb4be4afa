"""Exports as streams against the real PostgreSQL: at most RA_EXPORT_CONCURRENCY at once,
a stream broken off mid-way never looks complete, and times in UTC whatever the session's
time zone (the access request and export answers themselves: test_exports.py)."""

import dataclasses
import json
import uuid

import aiohttp
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from control_plane.event_rows import COUNT_HEADER, json_line
from control_plane.event_stream import open_stream, person_events
from control_plane.settings import Settings
from tests.integration.control_plane.conftest import signup, start
from tests.integration.control_plane.test_exports import (
    PERSON,
    START,
    as_line,
    insert,
    make_events,
    new_project,
    person_lines,
)

pytestmark = pytest.mark.integration


EXPORT_MARCH = "/api/projects/shop/events/export?from=2026-03-01&to=2026-03-05"


def fill(database: str, project: str, n: int) -> None:
    """``n`` events of about 300 bytes a line, more than the sockets between server and
    client hold: a stream of them stays open until the client reads it."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events (id, project_id, event, ts, received_at, distinct_id,"
            " session_id, properties)"
            " SELECT gen_random_uuid(), %s, 'e', %s::timestamptz + g * interval '1 second',"
            " now(), 'u' || g %% 100, 's', jsonb_build_object('pad', repeat('x', 200))"
            " FROM generate_series(1, %s) g",
            (project, START, n),
        )


async def test_streams_at_once_are_limited_and_one_more_is_told_to_retry(
    settings: Settings, database: str
) -> None:
    client = await start(dataclasses.replace(settings, export_concurrency=1))
    try:
        await signup(client)
        fill(database, await new_project(client, "shop"), 100000)
        first = await client.get(EXPORT_MARCH)
        assert first.status == 200  # streaming, its client not reading
        second = await person_lines(client, "shop", "u1")
        assert (second.status, (await second.json())["code"]) == (503, "EXPORTS_BUSY")
        assert second.headers["Retry-After"] == "5"
        assert len((await first.read()).splitlines()) == 100000
        third = await person_lines(client, "shop", "u1")
        assert third.status == 200
        assert len((await third.read()).splitlines()) == 1000  # once the first is done
    finally:
        await client.close()


async def test_a_stream_that_breaks_off_never_looks_complete(
    app_client: TestClient, database: str
) -> None:
    """The database connection dies mid-stream: the server drops the connection rather
    than end the body, so the client sees a broken transfer, not a short export."""
    await signup(app_client)
    fill(database, await new_project(app_client, "shop"), 100000)
    response = await app_client.get(EXPORT_MARCH)
    assert response.status == 200
    assert int(response.headers[COUNT_HEADER]) == 100000
    received = len(await response.content.read(64 * 1024))
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'FETCH FORWARD%%' AND pid <> pg_backend_pid()"
        )
    with pytest.raises(aiohttp.ClientPayloadError):
        while chunk := await response.content.read(64 * 1024):
            received += len(chunk)
    assert received < 100000 * 300


async def test_times_are_utc_with_microseconds_whatever_the_session_s_time_zone(
    database: str,
) -> None:
    project = str(uuid.uuid4())
    events = make_events(project, 20, [PERSON], seed=8)
    insert(database, events)
    async with await psycopg.AsyncConnection.connect(database) as conn:
        await conn.execute("SET TIME ZONE 'Asia/Kolkata'")
        await conn.commit()  # idle, as a pooled connection is handed out
        async with open_stream(conn, person_events(project, PERSON)) as stream:
            rows = [row async for batch in stream.batches(7) for row in batch]
    assert stream.count == len(rows) == 20
    mine = sorted(events, key=lambda e: (e[3], e[0]))
    assert [json.loads(json_line(row)) for row in rows] == [as_line(e) for e in mine]
