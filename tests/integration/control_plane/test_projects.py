"""Projects: create (session or bearer), list, show, key rotation, plan change (members and
invitations: test_members.py; who may choose plans: test_plans.py)."""

import asyncio
import socket
from dataclasses import replace

import psycopg
import pytest
from aiohttp.test_utils import TestClient
from psycopg_pool import AsyncConnectionPool

from contracts.api_keys import hash_key
from ingest_gateway.cache import TtlCache
from ingest_gateway.projects import ProjectDirectory
from tests.integration.control_plane.conftest import (
    ORIGIN,
    cli_access_token,
    grant_operator,
    signup,
    start,
)

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}


async def create(client: TestClient, slug: str, **extra: object) -> dict:  # type: ignore[type-arg]
    response = await client.post(
        "/api/projects", json={"name": slug.title(), "slug": slug, **extra}, headers=W
    )
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_create_returns_keys_once_and_stores_them_hashed(
    app_client: TestClient, database: str
) -> None:
    await signup(app_client)
    body = await create(app_client, "acme")
    assert body["publicKey"].startswith("pk_live_")
    assert body["secretKey"].startswith("sk_live_")
    project = body["project"]
    assert project["slug"] == "acme" and project["role"] == "owner"
    assert project["plan"] == "free" and project["monthlyEventLimit"] == 10_000
    with psycopg.connect(database) as conn:
        stored = {bytes(r[0]) for r in conn.execute("SELECT key_hash FROM api_keys")}
    assert stored == {hash_key(body["publicKey"]), hash_key(body["secretKey"])}

    shown = await (await app_client.get("/api/projects/acme")).json()
    assert body["secretKey"] not in str(shown) and body["publicKey"] not in str(shown)
    assert {k["kind"] for k in shown["project"]["keys"]} == {"public", "secret"}
    assert [m["role"] for m in shown["project"]["members"]] == ["owner"]
    by_id = await app_client.get(f"/api/projects/{project['id']}")
    assert (await by_id.json())["project"]["slug"] == "acme"


async def test_create_with_a_cli_bearer_and_list(app_client: TestClient, client_for) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    access = await cli_access_token(app_client)
    cli = await client_for()
    auth = {"Authorization": f"Bearer {access}"}
    response = await cli.post("/api/projects", json={"name": "Shop", "slug": "shop"}, headers=auth)
    assert response.status == 201
    await create(app_client, "blog", plan="free")
    listed = await (await cli.get("/api/projects", headers=auth)).json()
    assert [(p["slug"], p["monthlyEventLimit"]) for p in listed["projects"]] == [
        ("blog", 10_000),
        ("shop", 10_000),
    ]


async def test_create_validation_and_conflicts(app_client: TestClient, client_for) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    response = await app_client.post(
        "/api/projects", json={"name": "", "slug": "Bad Slug"}, headers=W
    )
    assert response.status == 400
    assert {d["field"] for d in (await response.json())["details"]} == {"name", "slug"}
    await create(app_client, "taken")
    other = await client_for()
    await signup(other)
    response = await other.post("/api/projects", json={"name": "T", "slug": "taken"}, headers=W)
    assert response.status == 409
    anonymous = await client_for()
    response = await anonymous.post("/api/projects", json={"name": "T", "slug": "anon"})
    assert response.status == 401


async def test_non_members_get_403_like_a_missing_project(
    app_client: TestClient, client_for
) -> None:  # type: ignore[no-untyped-def]
    await signup(app_client)
    await create(app_client, "private")
    stranger = await client_for()
    await signup(stranger)
    for path in ("/api/projects/private", "/api/projects/does-not-exist"):
        response = await stranger.get(path)
        assert response.status == 403
        assert await response.json() == {"error": "Forbidden"}
    assert (await stranger.post("/api/projects/private/keys/rotate", headers=W)).status == 403
    listed = await (await stranger.get("/api/projects")).json()
    assert listed == {"projects": []}


async def test_rotation_and_plan_change_reach_the_gateway_without_restart(
    app_client: TestClient, database: str
) -> None:
    grant_operator(database, await signup(app_client))
    body = await create(app_client, "live")
    pool = AsyncConnectionPool(database, min_size=1, max_size=2, open=False)
    await pool.open()
    try:
        directory = ProjectDirectory(pool, TtlCache(0.2))
        before = await directory.by_public_key(body["publicKey"])
        assert before is not None and before.monthly_event_limit == 10_000

        response = await app_client.post("/api/projects/live/keys/rotate", headers=W)
        assert response.status == 200
        rotated = await response.json()
        response = await app_client.post("/api/projects/live/plan", json={"plan": "pro"}, headers=W)
        assert (await response.json())["project"]["monthlyEventLimit"] == 1_000_000

        await asyncio.sleep(0.3)  # the gateway's cache TTL in this test
        assert await directory.by_public_key(body["publicKey"]) is None
        after = await directory.by_public_key(rotated["publicKey"])
        assert after is not None and after.monthly_event_limit == 1_000_000
    finally:
        await pool.close()


async def test_new_projects_are_spread_over_the_shards_least_loaded_first(
    settings, database: str
) -> None:
    """Sharded (contracts/shards.py): each new project goes to the shard with the fewest,
    and the gateway finds it there (the shard counting its usage)."""
    shards = {"default": database, "eu": database, "us": database}  # placement only
    client = await start(replace(settings, shard_databases=shards))
    try:
        await signup(client)
        with psycopg.connect(database, autocommit=True) as conn:
            before = dict(conn.execute("SELECT shard, count(*) FROM projects GROUP BY 1"))
        made = [await create(client, f"shard-{n}") for n in range(6)]
    finally:
        await client.close()
    with psycopg.connect(database) as conn:
        placed = dict(
            conn.execute("SELECT slug, shard FROM projects WHERE slug LIKE 'shard-_'").fetchall()
        )
    assert before == {}
    assert [placed[f"shard-{n}"] for n in range(6)] == ["default", "eu", "us"] * 2
    async with AsyncConnectionPool(database, open=False) as pool:
        projects = ProjectDirectory(pool, TtlCache(10))
        found = await projects.by_public_key(made[1]["publicKey"])
    assert found is not None and found.shard == "eu"


async def test_a_sharded_projects_usage_is_read_from_its_shard(
    settings, database: str, shard_database: str
) -> None:
    shards = {"default": database, "eu": shard_database}
    client = await start(replace(settings, shard_databases=shards))
    try:
        await signup(client)
        body = await create(client, "far")
        project_id = body["project"]["id"]
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("UPDATE projects SET shard = 'eu' WHERE id = %s", (project_id,))
        with psycopg.connect(shard_database, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO usage_months (project_id, month, used) VALUES"
                " (%s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 42)",
                (project_id,),
            )
        shown = await (await client.get("/api/projects/far")).json()
        assert shown["project"]["usage"]["used"] == 42
    finally:
        await client.close()
    # A control plane not given the shard: a clear 503, not another database's zero.
    client = await start(settings)
    try:
        await signup(client)
        with psycopg.connect(database, autocommit=True) as conn:
            user = conn.execute("SELECT id FROM users ORDER BY created_at DESC LIMIT 1").fetchone()
            assert user is not None
            conn.execute(
                "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'owner')",
                (project_id, user[0]),
            )
        response = await client.get("/api/projects/far")
        assert (response.status, (await response.json())["code"]) == (503, "SHARD_NOT_CONFIGURED")
    finally:
        await client.close()


async def test_a_shard_that_does_not_answer_keeps_the_control_plane_ready(
    settings, database: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = f"postgresql://nobody@127.0.0.1:{closed}/none?connect_timeout=1"
    client = await start(replace(settings, shard_databases={"default": database, "eu": down}))
    try:
        response = await client.get("/api/control/ready")
        body = await response.json()
    finally:
        await client.close()
    assert (response.status, body) == (
        200,
        {"redis": True, "database": True, "shards": {"eu": False}},
    )
