"""Access requests and raw exports against the real PostgreSQL: a person's events exactly,
owners only, a project on another shard read from that shard's database, and the CLI's
Parquet and JSON-lines files equal to the raw store's rows."""

import asyncio
import dataclasses
import json
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import psycopg
import pyarrow.parquet as pq
import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner, Result
from psycopg.types.json import Jsonb

from contracts.events import format_time
from control_plane import cli
from control_plane.cli.client import Credentials, save_credentials
from control_plane.event_rows import COLUMNS, COUNT_HEADER, NDJSON
from control_plane.settings import Settings
from tests.integration.control_plane.conftest import ORIGIN, cli_access_token, signup, start

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}
START = datetime(2026, 3, 1, tzinfo=UTC)
PERSON = 'ana/o "x" é?#%'  # a slash, quotes, and characters URLs must escape

Event = tuple[Any, ...]


async def new_project(client: TestClient, slug: str) -> str:
    response = await client.post("/api/projects", json={"name": slug, "slug": slug}, headers=W)
    assert response.status == 201, await response.text()
    return str((await response.json())["project"]["id"])


def make_events(project: str, n: int, people: list[str], seed: int) -> list[Event]:
    """``n`` events of ``people`` over two days from START, in the columns of ``events``."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        ts = START + timedelta(seconds=rng.randrange(2 * 86400), microseconds=rng.randrange(10**6))
        properties = {
            "$pathname": f"/p/{rng.randrange(20)}",
            "n": rng.randrange(-(10**12), 10**12),
            "price": rng.choice([2.5, 0.1, 19.99]),
            "tags": ["a", "ü", None],
            "nested": {"ok": rng.random() < 0.5},
        }
        events.append(
            (
                str(uuid.uuid4()),
                project,
                rng.choice(["$pageview", "signup", "purchase"]),
                ts,
                ts + timedelta(seconds=1),
                rng.choice(people),
                f"s{i % 7}",
                Jsonb(properties),
                f"i{i}" if i % 3 else None,
                Jsonb({"ip": "127.0.0.1"} if i % 2 else {}),
            )
        )
    return events


def insert(url: str, events: list[Event]) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO events (id, project_id, event, ts, received_at, distinct_id,"
            " session_id, properties, insert_id, context)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            events,
        )


def as_line(event: Event) -> dict[str, Any]:
    """The JSON line the contract promises for an inserted event."""
    _id, _project, name, ts, received, distinct, session, props, insert_id, context = event
    return {
        "id": _id,
        "event": name,
        "timestamp": format_time(ts),
        "receivedAt": format_time(received),
        "distinctId": distinct,
        "sessionId": session,
        "properties": props.obj,
        "insertId": insert_id,
        "context": context.obj,
    }


def store_rows(url: str, project: str, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """The raw store's rows of the range, by id, as the export's fields (times as
    datetimes, to compare with Parquet's)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM events WHERE project_id = %s AND ts >= %s AND ts < %s",
            (project, start, end),
        ).fetchall()
    return {
        row[0]: {
            "id": row[0],
            "event": row[1],
            "timestamp": datetime.fromisoformat(row[2]),
            "receivedAt": datetime.fromisoformat(row[3]),
            "distinctId": row[4],
            "sessionId": row[5],
            "properties": json.loads(row[6]),
            "insertId": row[7],
            "context": json.loads(row[8]),
        }
        for row in rows
    }


async def person_lines(
    client: TestClient, ref: str, person: str, **kwargs: Any
) -> aiohttp.ClientResponse:
    return await client.get(
        f"/api/projects/{ref}/persons/{quote(person, safe='')}/events", **kwargs
    )


def session_cookie(client: TestClient) -> dict[str, str]:
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    return {"ra_session": cookies["ra_session"].value}


async def test_an_access_request_streams_exactly_that_person_s_events_in_time_order(
    app_client: TestClient, client_for: Any, database: str
) -> None:
    await signup(app_client)
    project = await new_project(app_client, "shop")
    other = await client_for()
    await signup(other)
    other_project = await new_project(other, "elsewhere")
    events = make_events(project, 300, [PERSON, "bob", "ana"], seed=1)
    # The same distinct id in another tenant's project: never part of the answer.
    insert(database, events + make_events(other_project, 50, [PERSON], seed=2))

    response = await person_lines(app_client, "shop", PERSON, params={"format": "jsonl"})
    assert response.status == 200, await response.text()
    assert response.content_type == NDJSON
    body = await response.read()
    lines = [json.loads(line) for line in body.splitlines()]
    mine = sorted((e for e in events if e[5] == PERSON), key=lambda e: (e[3], e[0]))
    assert lines == [as_line(e) for e in mine]
    assert len(lines) > 50
    assert int(response.headers[COUNT_HEADER]) == len(lines)

    # By id as well as by slug; format defaults to jsonl; an unknown person has none.
    response = await person_lines(app_client, project, PERSON)
    assert [json.loads(x) for x in (await response.read()).splitlines()] == lines
    response = await person_lines(app_client, "shop", "nobody")
    assert (response.status, await response.read(), response.headers[COUNT_HEADER]) == (
        200,
        b"",
        "0",
    )
    response = await person_lines(app_client, "shop", PERSON, params={"format": "csv"})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "format"

    # The OpenAPI document says what a 200 is (the JSON answers are checked in test_openapi).
    document = await (await app_client.get("/api/openapi.json")).json()
    for path in (
        "/api/projects/{ref}/persons/{distinctId}/events",
        "/api/projects/{ref}/events/export",
    ):
        ok = document["paths"][path]["get"]["responses"]["200"]
        assert list(ok["content"]) == [NDJSON] and COUNT_HEADER in ok["headers"]


async def test_only_owners_read_a_person_s_events_or_export(
    app_client: TestClient, client_for: Any, database: str
) -> None:
    await signup(app_client)
    project = await new_project(app_client, "shop")
    insert(database, make_events(project, 20, [PERSON], seed=3))
    member = await client_for()
    await signup(member)
    me = await (await member.get("/api/me")).json()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'member')",
            (project, me["user"]["id"]),
        )
    assert (await member.get("/api/projects/shop")).status == 200  # a member indeed
    stranger = await client_for()
    await signup(stranger)
    await new_project(stranger, "theirs")
    export = "/api/projects/shop/events/export?from=2026-03-01&to=2026-03-05"

    for client in (member, stranger):
        assert (await person_lines(client, "shop", PERSON)).status == 403
        assert (await client.get(export)).status == 403
        # Not even a bad request is looked at before the caller is known to own it.
        assert (await client.get("/api/projects/shop/events/export")).status == 403
    for ref in ("missing", str(uuid.uuid4())):
        assert (await person_lines(app_client, ref, PERSON)).status == 403
    anonymous = await client_for()
    assert (await person_lines(anonymous, "shop", PERSON)).status == 401
    assert (await anonymous.get(export)).status == 401
    assert (await app_client.get(export)).status == 200


async def test_an_export_s_range_is_required_valid_and_forward(
    app_client: TestClient, tmp_path: Path
) -> None:
    await signup(app_client)
    await new_project(app_client, "shop")
    for query, fields in [
        ("", ["from", "to"]),
        ("?from=2026-03-01", ["to"]),
        ("?from=2026-03-01&to=soon", ["to"]),
        ("?from=2026-03-02&to=2026-03-01", ["to"]),
    ]:
        response = await app_client.get(f"/api/projects/shop/events/export{query}")
        assert response.status == 400, query
        assert [d["field"] for d in (await response.json())["details"]] == fields

    result = await run_cli(
        app_client,
        tmp_path,
        "export", "--project", "shop", "--from", "2026-03-02", "--to", "2026-03-01",
        str(tmp_path / "out.parquet"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "to: Must be later than from" in result.output
    # No file, not even a partial one.
    assert [name for name in os.listdir(tmp_path) if name.startswith("out")] == []


async def test_a_project_on_another_shard_is_read_from_that_shard_s_database(
    app_client: TestClient, settings: Settings, database: str, shard_database: str
) -> None:
    await signup(app_client)
    project = await new_project(app_client, "shop")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET shard = 'eu' WHERE id = %s", (project,))
    events = make_events(project, 60, [PERSON, "bob"], seed=4)
    insert(shard_database, events)
    # Rows of the same project in the control database are not the project's store.
    insert(database, make_events(project, 10, [PERSON], seed=5))
    cookies = session_cookie(app_client)

    sharded = await start(
        dataclasses.replace(settings, shard_databases={"default": database, "eu": shard_database})
    )
    try:
        response = await person_lines(sharded, "shop", PERSON, cookies=cookies)
        assert response.status == 200, await response.text()
        lines = [json.loads(x) for x in (await response.read()).splitlines()]
        export = await sharded.get(
            "/api/projects/shop/events/export?from=2026-03-01&to=2026-03-03", cookies=cookies
        )
        exported = {json.loads(x)["id"] for x in (await export.read()).splitlines()}
    finally:
        await sharded.close()
    mine = sorted((e for e in events if e[5] == PERSON), key=lambda e: (e[3], e[0]))
    assert lines == [as_line(e) for e in mine] != []
    assert exported == {e[0] for e in events}

    # A control plane not given the shard: a clear 503, never the control database's rows.
    response = await person_lines(app_client, "shop", PERSON)
    assert (response.status, (await response.json())["code"]) == (503, "SHARD_NOT_CONFIGURED")
    assert "Retry-After" in response.headers


async def run_cli(client: TestClient, config: Path, *args: str) -> Result:
    """The ``realanalytics`` command with a CLI access token of ``client``'s user, run in a
    thread: it talks HTTP to the server this test's loop serves."""
    token = await cli_access_token(client)
    url = str(client.make_url("")).rstrip("/")
    env = {"RA_CLI_CONFIG_DIR": str(config / "cli")}
    runner = CliRunner()

    def invoke() -> Result:
        with runner.isolation(env=env):
            save_credentials(Credentials(url, token))
        return runner.invoke(cli.main, ["--url", url, *args], env=env)

    return await asyncio.to_thread(invoke)


async def test_an_export_round_trips_through_parquet_and_json_lines(
    app_client: TestClient, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("control_plane.cli.exports.ROWS_PER_GROUP", 700)  # several groups
    await signup(app_client)
    project = await new_project(app_client, "shop")
    events = make_events(project, 3000, [f"u{n}" for n in range(100)] + [PERSON], seed=6)
    # The range's edges: from is inclusive, to exclusive.
    start, end = START + timedelta(hours=6), START + timedelta(days=1, hours=6)
    edges = make_events(project, 2, ["edge"], seed=7)
    edges[0] = (*edges[0][:3], start, *edges[0][4:])
    edges[1] = (*edges[1][:3], end, *edges[1][4:])
    insert(database, events + edges)
    truth = store_rows(database, project, start, end)
    assert edges[0][0] in truth and edges[1][0] not in truth
    assert 1000 < len(truth) < 3000

    bounds = ["--from", start.isoformat(), "--to", end.isoformat()]
    parquet = tmp_path / "shop.parquet"
    result = await run_cli(
        app_client, tmp_path, "export", "--project", "shop", *bounds, str(parquet)
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {len(truth):,} events" in result.output
    table = pq.read_table(parquet)
    assert pq.ParquetFile(parquet).num_row_groups == -(-len(truth) // 700)
    read_back = {}
    for row in table.to_pylist():
        row["properties"] = json.loads(row["properties"])
        row["context"] = json.loads(row["context"])
        read_back[row["id"]] = row
    assert read_back == truth

    jsonl = tmp_path / "shop.jsonl"
    result = await run_cli(
        app_client, tmp_path, "export", "--project", "shop", *bounds, "--format", "jsonl",
        str(jsonl),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    expected = {
        key: {
            **row,
            "timestamp": format_time(row["timestamp"]),
            "receivedAt": format_time(row["receivedAt"]),
        }
        for key, row in truth.items()
    }
    assert {line["id"]: line for line in lines} == expected
    assert len(lines) == len(expected)

    person = tmp_path / "person.jsonl"
    result = await run_cli(
        app_client, tmp_path, "person-events", "--project", "shop", PERSON, str(person)
    )
    assert result.exit_code == 0, result.output
    mine = sorted((e for e in events if e[5] == PERSON), key=lambda e: (e[3], e[0]))
    assert [json.loads(x) for x in person.read_text().splitlines()] == [as_line(e) for e in mine]
