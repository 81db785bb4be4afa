"""Projects and their keys: creation and key rotation (keys hashed at rest, shown once)."""

from dataclasses import dataclass

from psycopg import AsyncConnection

from contracts.keys import KeyKind, generate_key, hash_key, key_hint


class ProjectError(Exception):
    pass


class UnknownPlan(ProjectError):
    pass


@dataclass(frozen=True, slots=True)
class CreatedProject:
    id: str
    slug: str
    name: str
    plan: str
    monthly_event_limit: int
    public_key: str
    secret_key: str


async def create_project(conn: AsyncConnection, slug: str, name: str, plan: str) -> CreatedProject:
    """Insert the project and a fresh key pair in one transaction; the plaintext keys are
    returned here and never again."""
    async with conn.transaction():
        cursor = await conn.execute(
            "SELECT monthly_event_limit FROM plans WHERE name = %s", (plan,)
        )
        row = await cursor.fetchone()
        if row is None:
            raise UnknownPlan(plan)
        limit = int(row[0])
        cursor = await conn.execute(
            "INSERT INTO projects (slug, name, plan, monthly_event_limit)"
            " VALUES (%s, %s, %s, %s) RETURNING id::text",
            (slug, name, plan, limit),
        )
        created = await cursor.fetchone()
        assert created is not None
        project_id = str(created[0])
        public_key = await _issue_key(conn, project_id, KeyKind.PUBLIC)
        secret_key = await _issue_key(conn, project_id, KeyKind.SECRET)
    return CreatedProject(project_id, slug, name, plan, limit, public_key, secret_key)


async def _issue_key(conn: AsyncConnection, project_id: str, kind: KeyKind) -> str:
    key = generate_key(kind)
    await conn.execute(
        "INSERT INTO api_keys (project_id, kind, key_hash, key_hint) VALUES (%s, %s, %s, %s)",
        (project_id, kind.value, hash_key(key), key_hint(key)),
    )
    return key


async def rotate_keys(conn: AsyncConnection, project_id: str) -> tuple[str, str]:
    """Revoke the project's keys and issue a new ``(public, secret)`` pair."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE project_id = %s AND revoked_at IS NULL",
            (project_id,),
        )
        public_key = await _issue_key(conn, project_id, KeyKind.PUBLIC)
        secret_key = await _issue_key(conn, project_id, KeyKind.SECRET)
    return public_key, secret_key
