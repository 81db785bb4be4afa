"""After a person deletion (issue 17) every query type answers as if the deleted persons
had never sent anything: the rollups and breakdowns they touched rebuilt from the raw
events left, the funnel (raw) without them; their later events are never counted."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from control_plane.deletions import find_deletion, request_deletion
from stream_workers.erasure import Eraser
from tests.fixtures.services import unique_suffix
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import World, fill, make_world, start_client
from tests.integration.query_api.openapi_check import assert_matches_spec

pytestmark = pytest.mark.integration

START = datetime(2026, 5, 4, tzinfo=UTC)
DAYS = 3
END = START + timedelta(days=DAYS)
GONE = ("u3", "u17", "u42")


@pytest.fixture
def world(services: Any, pg_schema: str) -> World:
    return make_world(services, pg_schema, f"t:{unique_suffix()}:")


def erase(world: World) -> Eraser:
    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(world.database, autocommit=True)

    return Eraser("default", connect, connect, lease_seconds=60)


async def ask(client: Any, world: World, document: dict[str, Any]) -> dict[str, Any]:
    document = {
        "projectId": "alpha",
        "dateRange": {
            "start": START.isoformat(),
            "end": (END - timedelta(milliseconds=1)).isoformat(),
        },
        **document,
    }
    response = await client.post("/api/query", json=document, cookies={"ra_session": world.cookie})
    answer = await response.json()
    assert response.status == 200, answer
    assert_matches_spec(answer)
    return answer


async def test_every_query_answers_as_if_the_deleted_persons_never_sent_anything(
    world: World, services: Any
) -> None:
    records = truth.generate(world.project, START, DAYS, 3000, users=60, seed=8)
    await fill(world, records, services)
    kept = [r for r in records if r.distinct_id not in GONE]
    assert len(kept) < len(records)
    async with await psycopg.AsyncConnection.connect(world.database, autocommit=True) as conn:
        deletion = await request_deletion(conn, world.project, [*GONE, GONE[0]], world.user)
    eraser = erase(world)
    try:
        assert await eraser.run_pending() == 1
        assert await eraser.run_pending() == 0  # done: nothing left to claim
    finally:
        await eraser.close()
    async with await psycopg.AsyncConnection.connect(world.database, autocommit=True) as conn:
        done = await find_deletion(conn, world.project, deletion.id)
        raw_left = await (
            await conn.execute(
                "SELECT count(*) FROM events WHERE distinct_id = ANY(%s)", (list(GONE),)
            )
        ).fetchone()
    assert done is not None and done.status == "done" and done.persons == 0  # ids cleared
    assert done.events == len(records) - len(kept)
    assert raw_left == (0,)

    client = await start_client(world)
    try:
        for metric in ("count", "unique_users", "sessions"):
            for interval in ("hour", "day"):
                series = {"type": "timeseries", "event": "$pageview", "interval": interval}
                answer = await ask(client, world, {**series, "metric": metric})
                assert answer["meta"]["source"] == "rollup"
                assert answer["data"] == truth.timeseries(
                    kept, "$pageview", START, END, interval, "UTC", metric
                )
            split = {"type": "breakdown", "event": "signup", "breakdown": "$browser"}
            answer = await ask(client, world, {**split, "metric": metric, "limit": 2})
            assert answer["meta"]["source"] == "rollup"
            assert {"data": answer["data"], "other": answer["other"]} == truth.breakdown(
                kept, "signup", START, END, "$browser", 2, metric
            )
            answer = await ask(
                client, world, {"type": "metric", "event": "purchase", "metric": metric}
            )
            selected = truth.selected(kept, "purchase", START, END, lambda r: True)
            assert answer["value"] == truth.measure(selected, metric)
        steps = [{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}]
        window = {"value": 1, "unit": "day"}
        answer = await ask(
            client, world, {"type": "funnel", "steps": steps, "conversionWindow": window}
        )
        expected = truth.funnel(
            kept, [(s["event"], lambda r: True) for s in steps], START, END, timedelta(days=1)
        )
        assert [s["users"] for s in answer["steps"]] == expected
    finally:
        await client.close()

    # A late retry of a deleted person's events (an SDK's, or still in flight): not counted.
    late = [r for r in records if r.distinct_id in GONE][:50]
    await fill(world, [*records, *late], services, skip=len(records))  # the log goes on
    client = await start_client(world)
    try:
        answer = await ask(
            client, world, {"type": "metric", "event": "$pageview", "metric": "count"}
        )
    finally:
        await client.close()
    assert answer["value"] == len(truth.selected(kept, "$pageview", START, END, lambda r: True))
