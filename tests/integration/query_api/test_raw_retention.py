"""Raw retention (issue 17) seen through the query API: the job drops a project's whole
months past its retention, every query over the kept range answers exactly as before,
the rollups of the dropped range are kept, and another project's data is untouched."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from stream_workers.retention import Retainer
from tests.fixtures.services import unique_suffix
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import World, fill, make_world, start_client

pytestmark = pytest.mark.integration

OLD = datetime(2026, 7, 27, tzinfo=UTC)  # July's last days: past a 30-day retention ...
KEPT = datetime(2026, 8, 1, tzinfo=UTC)  # ... on TODAY, and August is not
TODAY = date(2026, 9, 10)
DAYS = 5


@pytest.fixture
def world(services: Any, pg_schema: str) -> World:
    return make_world(services, pg_schema, f"t:{unique_suffix()}:")


def retainer(world: World) -> Retainer:
    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(world.database, autocommit=True)

    return Retainer("default", connect, connect)


async def answers(world: World, start: datetime, project: str = "alpha") -> list[Any]:
    """Every query type over ``DAYS`` days from ``start``."""
    client = await start_client(world)
    end = start + timedelta(days=DAYS)
    base = {
        "projectId": project,
        "dateRange": {"start": start.isoformat(), "end": (end - timedelta(seconds=1)).isoformat()},
    }
    steps = [{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}]
    documents: list[dict[str, Any]] = [
        {"type": "funnel", "steps": steps, "conversionWindow": {"value": 1, "unit": "day"}},
        {"type": "metric", "event": "purchase", "metric": "unique_users"},
    ]
    for metric in ("count", "unique_users", "sessions"):
        documents.append(
            {"type": "timeseries", "event": "$pageview", "interval": "day", "metric": metric}
        )
        split = {"type": "breakdown", "event": "signup", "breakdown": "$browser"}
        documents.append({**split, "metric": metric})  # every value: from raw events
        documents.append({**split, "metric": metric, "limit": 2})  # from the rollups
    out = []
    try:
        for document in documents:
            response = await client.post(
                "/api/query", json={**base, **document}, cookies={"ra_session": world.cookie}
            )
            body = await response.json()
            assert response.status == 200, body
            body.get("meta", {}).pop("tookMs", None)
            body.get("meta", {}).pop("freshness", None)
            out.append(
                {
                    **{k: v for k, v in body.items() if k != "meta"},
                    "source": body.get("meta", {}).get("source"),
                }
            )
    finally:
        await client.close()
    return out


def raw_rows(world: World) -> dict[str, int]:
    with psycopg.connect(world.database) as conn:
        rows = conn.execute(
            "SELECT project_id::text || ':' || to_char(ts, 'YYYY-MM'), count(*) FROM events"
            " GROUP BY 1"
        ).fetchall()
    return {k: int(n) for k, n in rows}


async def test_retention_drops_whole_months_and_leaves_the_kept_range_unchanged(
    world: World, services: Any
) -> None:
    mine = truth.generate(world.project, OLD, DAYS + 5, 4000, users=80, seed=3)
    theirs = truth.generate(world.other, OLD, DAYS + 5, 1000, users=30, seed=4)
    await fill(world, [*mine, *theirs], services)
    with psycopg.connect(world.database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET raw_retention_days = 30 WHERE id = %s", (world.project,))
    before_kept = await answers(world, KEPT)
    before_old = await answers(world, OLD)
    rows_before = raw_rows(world)
    july = f"{world.project}:2026-07"
    assert rows_before[july] > 0 and rows_before[f"{world.other}:2026-07"] > 0

    run = await retainer(world).run(TODAY)
    assert run is not None
    table = f"events_2026_07_p{world.project.replace('-', '')}"
    assert run.dropped == (table,)  # one whole table: no row-by-row delete
    with psycopg.connect(world.database) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,)
    assert raw_rows(world) == {k: n for k, n in rows_before.items() if k != july}

    # The kept range answers exactly as before (raw and rollup queries alike).
    assert await answers(world, KEPT) == before_kept
    # The dropped range: the rollups (counts, sketches) are kept and answer as before;
    # what is read from raw events only (funnels, breakdowns with no limit) finds none left.
    after_old = await answers(world, OLD)
    kept = [(b, a) for b, a in zip(before_old, after_old, strict=True) if b["source"] == "rollup"]
    assert len(kept) >= 4 and all(a == b for b, a in kept)
    for b, a in zip(before_old, after_old, strict=True):
        if b["source"] == "raw" and b["type"] == "funnel":
            assert b["steps"][0]["users"] > 0 and [s["users"] for s in a["steps"]] == [0, 0, 0]
        elif b["source"] == "raw":
            assert b["data"] and a["data"] == []

    again = await retainer(world).run(TODAY)
    assert again is not None and again.dropped == ()
    with psycopg.connect(world.database) as conn:
        runs = conn.execute("SELECT partitions, error FROM retention_runs ORDER BY id").fetchall()
    assert runs == [([table], None), ([], None)]
