"""Creates (or finds) the demo project and writes its keys to .local/demo.env.

Keys are stored hashed, so a demo project whose keys are no longer in .local/demo.env gets
a fresh public/secret pair. Also a demo user (an owner and the local operator, with a
known password, to log in to the dashboard) and, when the project has no config yet, a
first config that names a saved dashboard.
"""

import asyncio
import os
from pathlib import Path

import psycopg

from contracts.api_keys import hash_key
from contracts.config import load_config
from control_plane.accounts import create_user, find_login
from control_plane.deploys import config_version, deploy_config
from control_plane.passwords import Passwords
from control_plane.projects import create_project, rotate_keys
from control_plane.settings import load_settings

DEMO_ENV = Path(".local/demo.env")
SLUG = "demo"
DEMO_EMAIL = "demo@realanalytics.test"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the local demo's login, printed by make run
DEMO_CONFIG = {
    "breakdownKeys": ["plan"],
    "dashboards": [
        {
            "name": "Overview",
            "charts": [
                {
                    "title": "Page views per hour",
                    "range": "24h",
                    "query": {"type": "timeseries", "event": "$pageview", "interval": "hour"},
                },
                {
                    "title": "Visitors",
                    "range": "7d",
                    "query": {"type": "metric", "event": "$pageview", "metric": "unique_users"},
                },
                {
                    "title": "Sign-ups",
                    "range": "7d",
                    "query": {"type": "metric", "event": "signup"},
                },
                {
                    "title": "Top pages",
                    "range": "7d",
                    "query": {"type": "breakdown", "event": "$pageview", "breakdown": "$pathname"},
                },
                {
                    "title": "Purchases by plan",
                    "range": "30d",
                    "query": {"type": "breakdown", "event": "purchase", "breakdown": "plan"},
                },
                {
                    "title": "Visit to purchase",
                    "range": "7d",
                    "query": {
                        "type": "funnel",
                        "steps": [
                            {"event": "$pageview"},
                            {"event": "signup"},
                            {"event": "purchase"},
                        ],
                    },
                },
            ],
        }
    ],
}


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


async def ensure_demo(database_url: str) -> dict[str, str]:
    known = read_env(DEMO_ENV)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute("SELECT id::text FROM projects WHERE slug = %s", (SLUG,))
        row = await cursor.fetchone()
        if row is not None and known.get("RA_PK"):
            cursor = await conn.execute(
                "SELECT 1 FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
                (hash_key(known["RA_PK"]),),
            )
            if await cursor.fetchone() is not None:
                await ensure_demo_user(conn, str(row[0]))
                return known
        if row is not None:
            project_id = str(row[0])
            public_key, secret_key = await rotate_keys(conn, project_id)
        else:
            project = await create_project(conn, SLUG, "Demo project", "pro")
            project_id, public_key, secret_key = project.id, project.public_key, project.secret_key
        await ensure_demo_user(conn, project_id)
    return {
        "RA_PROJECT_ID": project_id,
        "RA_PROJECT_SLUG": SLUG,
        "RA_PK": public_key,
        "RA_SK": secret_key,
    }


async def ensure_demo_user(conn: psycopg.AsyncConnection, project_id: str) -> None:
    """The demo login, a member of the demo project; its password is not reset if the user
    exists. The project's first config names a saved dashboard."""
    found = await find_login(conn, DEMO_EMAIL)
    if found is None:
        password_hash = await Passwords(load_settings()).hash(DEMO_PASSWORD)
        user_id = (await create_user(conn, DEMO_EMAIL, password_hash)).id
    else:
        user_id = found[0].id
    await conn.execute(
        "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'owner')"
        " ON CONFLICT (project_id, user_id) DO NOTHING",
        (project_id, user_id),
    )
    # The local demo's login is this machine's operator, so the ops view opens for it (on
    # a shared server: `python -m control_plane operators grant EMAIL`).
    await conn.execute(
        "INSERT INTO operators (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,)
    )
    if await config_version(conn, project_id) is None:
        await deploy_config(conn, project_id, load_config(DEMO_CONFIG), user_id)


def main() -> None:
    values = asyncio.run(ensure_demo(os.environ["RA_DATABASE_URL"]))
    values["RA_INGEST_URL"] = os.environ.get("RA_INGEST_URL", "http://127.0.0.1:8080")
    values["RA_APP_URL"] = os.environ.get("RA_APP_URL", "http://127.0.0.1:8081")
    values["RA_DEMO_EMAIL"] = DEMO_EMAIL
    values["RA_DEMO_PASSWORD"] = DEMO_PASSWORD
    DEMO_ENV.parent.mkdir(exist_ok=True)
    DEMO_ENV.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    DEMO_ENV.chmod(0o600)
    print(f"demo project '{SLUG}' — public key {values['RA_PK']}, secret key {values['RA_SK']}")
    print("(also in .local/demo.env)\n\nsend an event:\n")
    print(
        f"curl -X POST {values['RA_INGEST_URL']} \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f'  -H "X-API-Key: {values["RA_PK"]}" \\\n'
        '  -d \'[{"event": "signup_completed", "timestamp": "2026-02-03T15:30:00.000Z",'
        ' "distinctId": "user_123", "sessionId": "sess_abc",'
        ' "properties": {"plan": "pro", "source": "pricing_page"}}]\''
    )


if __name__ == "__main__":
    main()
