"""Who may ask: sessions, CLI bearer tokens, members only; hostile input stays data."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from contracts.sessions import ACCESS_TOKEN_PREFIX, new_token, token_digest
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import ORIGIN, World, fill
from tests.integration.query_api.openapi_check import assert_matches_spec

pytestmark = pytest.mark.integration

START = datetime(2026, 2, 1, tzinfo=UTC)
HOSTILE = "'; DROP TABLE events; --"
RANGE = {"start": "2026-02-01T00:00:00.000Z", "end": "2026-02-03T23:59:59.999Z"}
QUERIES: dict[str, dict[str, Any]] = {
    "timeseries": {"type": "timeseries", "event": "$pageview"},
    "breakdown": {"type": "breakdown", "event": "$pageview", "breakdown": "$pathname"},
    "metric": {"type": "metric", "event": "$pageview", "metric": "unique_users"},
    "funnel": {"type": "funnel", "steps": [{"event": "$pageview"}, {"event": "signup"}]},
}


@pytest.fixture(scope="module")
def world(module_world: World, services: Any) -> tuple[World, list[Any]]:
    records = truth.generate(module_world.project, START, 3, 800, seed=5)
    records += truth.generate(module_world.other, START, 3, 800, seed=6)
    for r in records[:40]:
        r.properties[HOSTILE] = HOSTILE
    asyncio.run(fill(module_world, records, services))
    return module_world, records


def query(kind: str, project: str = "alpha", **extra: Any) -> dict[str, Any]:
    return {**QUERIES[kind], "projectId": project, "dateRange": RANGE, **extra}


async def post(client: Any, document: Any, **kwargs: Any) -> tuple[int, Any]:
    response = await client.post("/api/query", json=document, **kwargs)
    return response.status, await response.json()


@pytest.mark.parametrize("kind", list(QUERIES))
async def test_each_type_answers_members_and_refuses_other_tenants_alike(world, client, kind):
    w, _ = world
    cookies = {"ra_session": w.cookie}
    status, answer = await post(client, query(kind), cookies=cookies)
    assert status == 200, answer
    assert_matches_spec(answer)
    for project in ("beta", w.other, "no-such-project", "00000000-0000-0000-0000-000000000000"):
        status, refused = await post(client, query(kind, project), cookies=cookies)
        assert (status, refused) == (403, {"error": "Forbidden"})
        assert_matches_spec(refused, 403)


async def test_project_by_id_equals_project_by_slug(world, client):
    w, _ = world
    cookies = {"ra_session": w.cookie}
    _, by_slug = await post(client, query("metric"), cookies=cookies)
    _, by_id = await post(client, query("metric", w.project), cookies=cookies)
    assert by_slug["value"] == by_id["value"] > 0


async def test_no_session_is_401_and_a_stale_one_too(world, client):
    _, _ = world
    status, body = await post(client, query("metric"))
    assert (status, body) == (401, {"error": "Authentication required"})
    status, body = await post(client, query("metric"), cookies={"ra_session": "forged"})
    assert status == 401
    assert_matches_spec(body, 401)
    status, _ = await post(client, query("metric"), headers={"Authorization": "Bearer nope"})
    assert status == 401


async def test_cli_bearer_tokens_work_until_revoked(world, client):
    w, _ = world
    token = new_token(ACCESS_TOKEN_PREFIX)
    with psycopg.connect(w.database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO cli_access_tokens (token_hash, user_id) VALUES (%s, %s)",
            (token_digest(token), w.user),
        )
    headers = {"Authorization": f"Bearer {token}"}
    status, answer = await post(client, query("timeseries"), headers=headers)
    assert status == 200 and len(answer["data"]) == 72
    assert (await post(client, query("timeseries", "beta"), headers=headers))[0] == 403
    with psycopg.connect(w.database, autocommit=True) as conn:
        conn.execute(
            "UPDATE cli_access_tokens SET revoked_at = now() WHERE user_id = %s", (w.user,)
        )
    assert (await post(client, query("timeseries"), headers=headers))[0] == 401


async def test_a_foreign_page_cannot_use_the_cookie(world, client):
    w, _ = world
    cookies = {"ra_session": w.cookie}
    status, _ = await post(
        client, query("metric"), cookies=cookies, headers={"Origin": "https://evil.test"}
    )
    assert status == 403
    status, _ = await post(client, query("metric"), cookies=cookies, headers={"Origin": ORIGIN})
    assert status == 200


async def test_validation_failures_are_400_with_details(world, client):
    w, _ = world
    cookies = {"ra_session": w.cookie}
    bad = query(
        "timeseries", interval="minute", dateRange={"start": "2026-01-01", "end": "2026-02-01"}
    )
    status, body = await post(client, bad, cookies=cookies)
    assert status == 400 and body["error"] == "Validation failed"
    assert_matches_spec(body, 400)
    response = await client.post("/api/query", data=b"{nope", cookies=cookies)
    assert response.status == 400


async def test_the_seed_example_verbatim_returns_the_series(world, client):
    w, records = world
    seed = {
        "type": "timeseries",
        "projectId": "alpha",
        "event": "$pageview",
        "dateRange": {"start": "2026-02-01T00:00:00.000Z", "end": "2026-02-03T23:59:59.999Z"},
        "metric": "count",
        "filter": {"key": "$pathname", "op": "eq", "value": "/pricing"},
    }
    status, answer = await post(client, seed, cookies={"ra_session": w.cookie})
    assert status == 200
    end = START + timedelta(days=3)
    expected = truth.timeseries(
        records,
        "$pageview",
        START,
        end,
        "hour",
        "UTC",
        "count",
        lambda r: r.project_id == w.project and r.properties["$pathname"] == "/pricing",
    )
    assert answer["data"] == expected and sum(p["value"] for p in expected) > 0
    assert (answer["interval"], answer["timezone"]) == ("hour", "UTC")
    assert answer["data"][0]["t"] == "2026-02-01T00:00:00+00:00"
    assert answer["meta"]["source"] == "rollup" and answer["meta"]["rollup"] == "hour"


@pytest.mark.parametrize("kind", list(QUERIES))
async def test_hostile_keys_and_values_are_only_data(world, client, kind):
    w, records = world
    condition = {"key": HOSTILE, "op": "eq", "value": HOSTILE}
    extra: dict[str, Any] = {"filter": condition}
    if kind == "breakdown":
        extra["breakdown"] = HOSTILE
    if kind == "funnel":
        extra["steps"] = [{"event": "$pageview", "filters": [condition]}, {"event": HOSTILE}]
    status, answer = await post(client, query(kind, **extra), cookies={"ra_session": w.cookie})
    assert status == 200, answer
    with psycopg.connect(w.database) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (len(records),)
    if kind == "metric":
        tagged = [r for r in records if r.project_id == w.project and r.event == "$pageview"]
        assert answer["value"] == len({r.distinct_id for r in tagged if HOSTILE in r.properties})


async def test_openapi_document_is_served_and_valid(world, client):
    from openapi_spec_validator import validate

    response = await client.get("/api/query/openapi.json")
    spec = await response.json()
    validate(spec)
    assert "/api/query" in spec["paths"]


async def test_mounted_on_the_app_api_origin(world):
    from aiohttp.test_utils import TestClient, TestServer

    from app_api.app import Mount, create_app
    from query_api.app import MOUNT_PREFIX
    from query_api.app import create_app as create_query_app

    w, _ = world
    root = create_app([Mount("query_api", MOUNT_PREFIX, create_query_app(w.settings()))])
    async with TestClient(TestServer(root, host="127.0.0.1")) as origin:
        status, answer = await post(origin, query("metric"), cookies={"ra_session": w.cookie})
        assert status == 200 and answer["type"] == "metric"
        assert (await origin.get("/api/query/openapi.json")).status == 200
