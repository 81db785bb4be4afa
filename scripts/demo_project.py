"""Creates (or finds) the demo project and writes its keys to .local/demo.env.

Keys are stored hashed, so a demo project whose keys are no longer in .local/demo.env gets
a fresh public/secret pair.
"""

import asyncio
import os
from pathlib import Path

import psycopg

from contracts.keys import hash_key
from control_plane.projects import create_project, rotate_keys

DEMO_ENV = Path(".local/demo.env")
SLUG = "demo"


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
                return known
        if row is not None:
            project_id = str(row[0])
            public_key, secret_key = await rotate_keys(conn, project_id)
        else:
            project = await create_project(conn, SLUG, "Demo project", "pro")
            project_id, public_key, secret_key = project.id, project.public_key, project.secret_key
    return {
        "RA_PROJECT_ID": project_id,
        "RA_PROJECT_SLUG": SLUG,
        "RA_PK": public_key,
        "RA_SK": secret_key,
    }


def main() -> None:
    values = asyncio.run(ensure_demo(os.environ["RA_DATABASE_URL"]))
    values["RA_INGEST_URL"] = os.environ.get("RA_INGEST_URL", "http://127.0.0.1:8080")
    values["RA_APP_URL"] = os.environ.get("RA_APP_URL", "http://127.0.0.1:8081")
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
