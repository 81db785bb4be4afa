"""Projects and their keys: creation and key rotation (keys hashed at rest, shown once)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection, errors

from common.membership import BY_REF, member_project, possible_ref, ref_parameters
from contracts.api_keys import KeyKind, generate_key, hash_key, hashes_equal, key_hint
from contracts.shards import DEFAULT_SHARD, least_loaded


class ProjectError(Exception):
    pass


class UnknownPlan(ProjectError):
    pass


class SlugTaken(ProjectError):
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


@dataclass(frozen=True, slots=True)
class ProjectView:
    """A project as one of its members sees it (``role`` is theirs)."""

    id: str
    slug: str
    name: str
    plan: str
    monthly_event_limit: int
    role: str
    created_at: datetime
    raw_retention_days: int  # raw events older than this are dropped by the workers


async def create_project(
    conn: AsyncConnection,
    slug: str,
    name: str,
    plan: str,
    owner_id: str | None = None,
    shards: Sequence[str] = (DEFAULT_SHARD,),
) -> CreatedProject:
    """Insert the project, a fresh key pair and (given ``owner_id``) its owner in one
    transaction; the plaintext keys are returned here and never again."""
    try:
        async with conn.transaction():
            limit = await _plan_limit(conn, plan)
            shard = await _place(conn, shards)
            cursor = await conn.execute(
                "INSERT INTO projects (slug, name, plan, monthly_event_limit, shard)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id::text",
                (slug, name, plan, limit, shard),
            )
            created = await cursor.fetchone()
            assert created is not None
            project_id = str(created[0])
            public_key = await _issue_key(conn, project_id, KeyKind.PUBLIC)
            secret_key = await _issue_key(conn, project_id, KeyKind.SECRET)
            if owner_id is not None:
                await conn.execute(
                    "INSERT INTO project_members (project_id, user_id, role)"
                    " VALUES (%s, %s, 'owner')",
                    (project_id, owner_id),
                )
    except errors.UniqueViolation as exc:
        raise SlugTaken(slug) from exc
    return CreatedProject(project_id, slug, name, plan, limit, public_key, secret_key)


async def _plan_limit(conn: AsyncConnection, plan: str) -> int:
    cursor = await conn.execute("SELECT monthly_event_limit FROM plans WHERE name = %s", (plan,))
    row = await cursor.fetchone()
    if row is None:
        raise UnknownPlan(plan)
    return int(row[0])


_VIEW_COLUMNS = (
    "p.id::text, p.slug, p.name, p.plan, p.monthly_event_limit, m.role, p.created_at,"
    " p.raw_retention_days"
)
_VIEW = (
    f"SELECT {_VIEW_COLUMNS}"  # noqa: S608 - constants
    " FROM projects p JOIN project_members m ON m.project_id = p.id"
)


async def list_projects(conn: AsyncConnection, user_id: str) -> list[ProjectView]:
    cursor = await conn.execute(_VIEW + " WHERE m.user_id = %s ORDER BY p.slug", (user_id,))
    return [ProjectView(*row) for row in await cursor.fetchall()]


async def project_for_member(conn: AsyncConnection, ref: str, user_id: str) -> ProjectView | None:
    """The project named by slug or id, when ``user_id`` is a member of it; ``None`` both
    when it does not exist and when they are not a member."""
    row = await member_project(conn, user_id, ref, _VIEW_COLUMNS)
    return None if row is None else ProjectView(*row)


_FIND = (  # noqa: S608 - constants
    "SELECT p.id::text, p.slug, p.name, p.plan, p.monthly_event_limit, '', p.created_at,"
    " p.raw_retention_days FROM projects p WHERE "
) + BY_REF


async def find_project(conn: AsyncConnection, ref: str) -> ProjectView | None:
    """The project named by slug or id, whoever asks (operators); ``role`` is empty."""
    if not possible_ref(ref):
        return None
    cursor = await conn.execute(_FIND, ref_parameters(ref))
    row = await cursor.fetchone()
    return None if row is None else ProjectView(*row)


async def change_plan(
    conn: AsyncConnection, project_id: str, plan: str, changed_by: str | None = None
) -> int:
    """Move the project to ``plan`` and record who did; returns the new monthly limit.
    The gateway and the workers read it from this row (short caches), so no restart is
    needed. Only operators may call this (checked by the caller)."""
    async with conn.transaction():
        limit = await _plan_limit(conn, plan)
        cursor = await conn.execute(
            "UPDATE projects p SET plan = %s, monthly_event_limit = %s"
            " FROM projects old WHERE p.id = %s AND old.id = p.id RETURNING old.plan",
            (plan, limit, project_id),
        )
        row = await cursor.fetchone()
        await conn.execute(
            "INSERT INTO plan_changes (project_id, from_plan, to_plan, changed_by)"
            " VALUES (%s, %s, %s, %s)",
            (project_id, row[0] if row else None, plan, changed_by),
        )
    return limit


async def update_project(
    conn: AsyncConnection,
    project_id: str,
    name: str | None = None,
    raw_retention_days: int | None = None,
) -> None:
    """Set what is given of the project's name and raw retention (the caller checked the
    owner and the operators' maximum). A shorter retention takes effect at the workers'
    next retention run, which reads it from this row."""
    await conn.execute(
        "UPDATE projects SET name = coalesce(%s, name),"
        " raw_retention_days = coalesce(%s, raw_retention_days) WHERE id = %s",
        (name, raw_retention_days, project_id),
    )


async def used_this_month(conn: AsyncConnection, project_id: str) -> tuple[str, int]:
    """``(YYYY-MM, events counted)`` of the current UTC month, from the workers' exact
    counts (``usage_months``)."""
    cursor = await conn.execute(
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM'), coalesce(("
        " SELECT used FROM usage_months WHERE project_id = %s"
        " AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)",
        (project_id,),
    )
    row = await cursor.fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


async def secret_key_matches(conn: AsyncConnection, project_id: str, secret_key: str) -> bool:
    """Whether ``secret_key`` is an active secret key of this project, compared in
    constant time by hash (another project's key does not match)."""
    cursor = await conn.execute(
        "SELECT key_hash FROM api_keys"
        " WHERE project_id = %s AND kind = 'secret' AND revoked_at IS NULL",
        (project_id,),
    )
    digest = hash_key(secret_key)
    matched = False
    for (stored,) in await cursor.fetchall():
        matched |= hashes_equal(bytes(stored), digest)
    return matched


async def active_keys(conn: AsyncConnection, project_id: str) -> list[dict[str, str]]:
    """What may be shown of the project's active keys: kind, hint and creation time."""
    cursor = await conn.execute(
        "SELECT kind, key_hint, created_at FROM api_keys"
        " WHERE project_id = %s AND revoked_at IS NULL ORDER BY kind",
        (project_id,),
    )
    return [
        {"kind": kind, "hint": hint, "createdAt": created.isoformat()}
        for kind, hint, created in await cursor.fetchall()
    ]


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


async def _place(conn: AsyncConnection, shards: Sequence[str]) -> str:
    """The shard a new project lives on (contracts/shards.py): the least loaded one."""
    if len(shards) == 1:
        return shards[0]
    cursor = await conn.execute(
        "SELECT shard, count(*) FROM projects WHERE shard = ANY(%s) GROUP BY shard",
        (list(shards),),
    )
    return least_loaded({str(n): int(c) for n, c in await cursor.fetchall()}, shards)
