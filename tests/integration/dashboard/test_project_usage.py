"""Issue 15: the ops view's project figures. A member reads this month's used, limit,
remaining and overage of their own projects only, and nothing of the pipeline; an
operator reads every project's beside the pipeline's state; nobody else reads anything."""

from dataclasses import dataclass

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from contracts.sessions import ACCESS_TOKEN_PREFIX, SESSION_COOKIE, new_token, token_digest
from tests.fixtures.services import Services
from tests.integration.dashboard.conftest import LoggedIn, log_in

pytestmark = pytest.mark.integration

PROJECTS = "/dashboard/api/ops/projects"
OPS = "/dashboard/api/ops"
PROJECT_FIELDS = {"id", "slug", "name", "plan", "used", "limit", "remaining", "overage"}
_THIS_MONTH = "date_trunc('month', now() AT TIME ZONE 'UTC')::date"


@dataclass(frozen=True, slots=True)
class World:
    member: LoggedIn
    operator: LoggedIn
    ids: dict[str, str]  # slug -> project id


def add_project(
    conn: psycopg.Connection, slug: str, limit: int, used: int | None, last_month: int = 0
) -> str:
    row = conn.execute(
        "INSERT INTO projects (slug, name, plan, monthly_event_limit)"
        " VALUES (%s, %s, 'free', %s) RETURNING id::text",
        (slug, f"Project {slug}", limit),
    ).fetchone()
    assert row is not None
    if used is not None:
        conn.execute(
            "INSERT INTO usage_months (project_id, month, used, dropped)"
            f" VALUES (%s, {_THIS_MONTH}, %s, 0)",
            (row[0], used),
        )
    if last_month:
        conn.execute(
            "INSERT INTO usage_months (project_id, month, used)"
            f" VALUES (%s, ({_THIS_MONTH} - interval '1 month')::date, %s)",
            (row[0], last_month),
        )
    return str(row[0])


@pytest.fixture
def world(services: Services, pg_schema: str, redis_prefix: str) -> World:
    member = log_in(services, pg_schema, redis_prefix, operator=False)
    operator = log_in(services, pg_schema, redis_prefix, operator=True)
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        ids = {
            # Past its limit (the workers count what the gateway let through failing open);
            # last month's usage is not this month's.
            "mine-over": add_project(conn, "mine-over", 100, 130, last_month=5000),
            "mine-idle": add_project(conn, "mine-idle", 10_000, None),  # no events yet
            "theirs": add_project(conn, "theirs", 100, 250),
        }
        for slug, role in (("mine-over", "owner"), ("mine-idle", "member")):
            conn.execute(
                "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, %s)",
                (ids[slug], member.user_id, role),
            )
    return World(member, operator, ids)


def figures(w: World, slug: str, used: int, limit: int) -> dict[str, object]:
    return {
        "id": w.ids[slug],
        "slug": slug,
        "name": f"Project {slug}",
        "plan": "free",
        "used": used,
        "limit": limit,
        "remaining": max(0, limit - used),
        "overage": max(0, used - limit),
    }


async def get(client: TestClient, path: str, who: LoggedIn | None) -> tuple[int, object]:
    cookies = {SESSION_COOKIE: who.session_id} if who else None
    response = await client.get(path, cookies=cookies)
    return response.status, await response.json()


async def test_a_member_sees_their_projects_figures_and_nothing_of_the_pipeline(
    client: TestClient, world: World
) -> None:
    status, body = await get(client, PROJECTS, world.member)
    assert status == 200
    assert isinstance(body, dict)
    # Exactly these fields: no lag, partitions, groups, topics, services or other projects.
    assert set(body) == {"scope", "month", "projects", "overageThisMonth"}
    assert body["scope"] == "member"
    assert body["projects"] == [
        figures(world, "mine-idle", 0, 10_000),
        figures(world, "mine-over", 130, 100),
    ]
    assert body["overageThisMonth"] == 30
    assert all(set(p) == PROJECT_FIELDS for p in body["projects"])
    # The pipeline's figures stay the operators'.
    assert await get(client, OPS, world.member) == (403, {"error": "The ops view is for operators"})


async def test_a_member_of_no_project_sees_an_empty_table(
    client: TestClient, world: World, services: Services, pg_schema: str, redis_prefix: str
) -> None:
    stranger = log_in(services, pg_schema, redis_prefix, operator=False)
    status, body = await get(client, PROJECTS, stranger)
    assert status == 200 and isinstance(body, dict)
    assert (body["scope"], body["projects"], body["overageThisMonth"]) == ("member", [], 0)


async def test_a_cli_token_reads_the_same_as_the_session(
    client: TestClient, world: World, pg_schema: str
) -> None:
    token = new_token(ACCESS_TOKEN_PREFIX)
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO cli_access_tokens (token_hash, user_id) VALUES (%s, %s)",
            (token_digest(token), world.member.user_id),
        )
    response = await client.get(PROJECTS, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert [p["slug"] for p in (await response.json())["projects"]] == ["mine-idle", "mine-over"]


async def test_an_operator_sees_every_project_and_the_total_overage(
    client: TestClient, world: World
) -> None:
    status, body = await get(client, PROJECTS, world.operator)
    assert status == 200 and isinstance(body, dict)
    assert body["scope"] == "all"
    assert body["projects"] == [
        figures(world, "mine-idle", 0, 10_000),
        figures(world, "mine-over", 130, 100),
        figures(world, "theirs", 250, 100),
    ]
    assert body["overageThisMonth"] == 30 + 150
    status, ops = await get(client, OPS, world.operator)
    assert status == 200 and isinstance(ops, dict)
    # The pipeline's total is the same sum, over every project (not the dropped column).
    assert ops["overageThisMonth"] == 180
    assert "overLimitThisMonth" not in ops


async def test_nobody_else_reads_any_figure(client: TestClient, world: World) -> None:
    assert await get(client, PROJECTS, None) == (401, {"error": "Authentication required"})
    stale = await client.get(PROJECTS, cookies={SESSION_COOKIE: "nope"})
    assert stale.status == 401
    bad = await client.get(PROJECTS, headers={"Authorization": "Bearer nope"})
    assert bad.status == 401
