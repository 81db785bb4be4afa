"""Plans are not self-service: projects start on the default plan, only an operator names
another or changes it, operators are made only on the server's command line, and members
see their plan and this month's usage."""

import asyncio
import os
import sys

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from tests.integration.control_plane.conftest import ORIGIN, grant_operator, signup

pytestmark = pytest.mark.integration
W = {"Origin": ORIGIN}


async def operators_command(database: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "control_plane",
        "operators",
        *args,
        env={**os.environ, "RA_DATABASE_URL": database},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:  # e.g. a server started instead of the command
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_a_user_cannot_choose_or_change_their_plan(app_client: TestClient) -> None:
    await signup(app_client)
    response = await app_client.post(
        "/api/projects", json={"name": "Big", "slug": "big", "plan": "enterprise"}, headers=W
    )
    assert response.status == 403
    assert await response.json() == {
        "error": "New projects start on the free plan; only an operator can choose another"
    }
    response = await app_client.post("/api/projects", json={"name": "S", "slug": "s-1"}, headers=W)
    assert response.status == 201
    assert (await response.json())["project"]["plan"] == "free"

    # The owner, changing their own project's plan: refused, and the plan stays.
    response = await app_client.post("/api/projects/s-1/plan", json={"plan": "pro"}, headers=W)
    assert response.status == 403
    assert await response.json() == {"error": "Only an operator can change a project's plan"}
    shown = await (await app_client.get("/api/projects/s-1")).json()
    assert (shown["project"]["plan"], shown["project"]["monthlyEventLimit"]) == ("free", 10_000)


async def test_operators_are_granted_on_the_command_line_and_change_any_plan(
    app_client: TestClient, client_for, database: str
) -> None:  # type: ignore[no-untyped-def]
    owner_email = await signup(app_client)
    await app_client.post("/api/projects", json={"name": "Shop", "slug": "shop"}, headers=W)
    staff = await client_for()
    staff_email = await signup(staff)

    code, out = await operators_command(database, "grant", "nobody@example.com")
    assert code == 1 and "no account with the email nobody@example.com" in out
    code, out = await operators_command(database, "grant", staff_email.upper())
    assert (code, out.strip()) == (0, f"{staff_email.upper()} is now an operator")
    code, out = await operators_command(database, "list")
    assert code == 0 and out.split("\t")[0] == staff_email

    # Not a member of the project, and still allowed: plans are the operator's to set.
    response = await staff.post("/api/projects/shop/plan", json={"plan": "pro"}, headers=W)
    assert response.status == 200, await response.text()
    assert (await response.json())["project"]["monthlyEventLimit"] == 1_000_000
    response = await staff.post("/api/projects/shop/plan", json={"plan": "platinum"}, headers=W)
    assert response.status == 400
    assert (await response.json())["details"] == [{"field": "plan", "message": "Unknown plan."}]
    response = await staff.post(
        "/api/projects", json={"name": "Big", "slug": "big", "plan": "enterprise"}, headers=W
    )
    assert response.status == 201
    with psycopg.connect(database) as conn:
        changes = conn.execute(
            "SELECT from_plan, to_plan, u.email FROM plan_changes c JOIN users u"
            " ON u.id = c.changed_by ORDER BY c.id"
        ).fetchall()
    assert changes == [("free", "pro", staff_email)]
    shown = await (await app_client.get("/api/projects/shop")).json()
    assert shown["project"]["plan"] == "pro"

    code, out = await operators_command(database, "revoke", staff_email)
    assert (code, out.strip()) == (0, f"{staff_email} is no longer an operator")
    response = await staff.post("/api/projects/shop/plan", json={"plan": "free"}, headers=W)
    assert response.status == 403
    assert await response.json() == {"error": "Forbidden"}  # and not a member either
    assert owner_email != staff_email


async def test_members_see_their_plan_and_this_months_usage(
    app_client: TestClient, database: str
) -> None:
    await signup(app_client)
    created = await app_client.post("/api/projects", json={"name": "U", "slug": "used"}, headers=W)
    project_id = (await created.json())["project"]["id"]
    shown = await (await app_client.get("/api/projects/used")).json()
    month = shown["project"]["usage"]["month"]
    assert shown["project"]["usage"] == {
        "month": month,
        "used": 0,
        "limit": 10_000,
        "remaining": 10_000,
        "overage": 0,
    }
    with psycopg.connect(database) as conn:  # what the workers write, counted exactly
        conn.execute(
            "INSERT INTO usage_months (project_id, month, used)"
            " VALUES (%s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 12345)",
            (project_id,),
        )
    shown = await (await app_client.get("/api/projects/used")).json()
    assert shown["project"]["usage"] == {
        "month": month,
        "used": 12_345,
        "limit": 10_000,
        "remaining": 0,
        "overage": 2_345,  # counted past the limit (fail-open), never dropped
    }


async def test_an_operator_naming_a_missing_project_gets_403(
    app_client: TestClient, database: str
) -> None:
    """The same answer as anyone gets for a project that does not exist."""
    email = await signup(app_client)
    grant_operator(database, email)
    response = await app_client.post("/api/projects/nope/plan", json={"plan": "pro"}, headers=W)
    assert response.status == 403
