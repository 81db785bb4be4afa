"""This month's usage per project: events used, the limit, what remains and the overage.

A project's figures, not the pipeline's: a member may read them for the projects they
belong to, an operator for every project (``dashboard.auth``). They come from PostgreSQL
only — ``usage_months.used`` (the workers' exact count for the calendar month, UTC) and
``projects.monthly_event_limit`` (the plan's limit, the one the gateway enforces) — so
nothing here says anything about Kafka, Redis or other projects.

Overage is what was counted past the limit: ``max(0, used - limit)``. The gateway
refuses a request that would cross the limit, but it fails open when Redis does not
answer, and the workers count every event they apply, so ``used`` can pass the limit.

Sharded (contracts/shards.py): a project on another shard has its ``usage_months`` in that
shard's database; its count is read there (``shards``, each shard's pool by name).

Dead letters are not shown per project: a record is dead-lettered because it could not be
read, so which project it belongs to is not known (the ops view counts them in total).
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from contracts.shards import DEFAULT_SHARD

Shards = Mapping[str, AsyncConnectionPool]

_MONTH_SQL = "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date"
_COLUMNS = (
    "SELECT p.id::text, p.slug, p.name, p.plan, p.monthly_event_limit, coalesce(m.used, 0),"
    " p.shard FROM projects p"
    " LEFT JOIN usage_months m ON m.project_id = p.id AND m.month = %(month)s"
)
_ALL_SQL = f"{_COLUMNS} ORDER BY p.slug"
_MEMBER_SQL = (
    f"{_COLUMNS} JOIN project_members pm ON pm.project_id = p.id"
    " WHERE pm.user_id = %(user_id)s::uuid ORDER BY p.slug"
)
# The same arithmetic as ``overage``, summed in the database: the ops view's total must not
# read every project's row each sample.
_OVERAGE_SQL = (
    "SELECT coalesce(sum(greatest(0, m.used - p.monthly_event_limit)), 0)"
    " FROM usage_months m JOIN projects p ON p.id = m.project_id"
    " WHERE m.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date"
)
_SHARD_USED_SQL = (
    "SELECT project_id::text, used FROM usage_months WHERE month = %s"
    " AND project_id = ANY(%s::uuid[])"
)
_SHARDED_LIMITS_SQL = "SELECT id::text, shard, monthly_event_limit FROM projects WHERE shard <> %s"


def overage(used: int, limit: int) -> int:
    """Events counted past the limit this month (0 while within it)."""
    return max(0, used - limit)


def remaining(used: int, limit: int) -> int:
    """Events the project may still send this month (0 once at or past the limit)."""
    return max(0, limit - used)


@dataclass(frozen=True, slots=True)
class ProjectUsage:
    project_id: str
    slug: str
    name: str
    plan: str
    limit: int
    used: int
    shard: str = DEFAULT_SHARD

    def body(self) -> dict[str, Any]:
        return {
            "id": self.project_id,
            "slug": self.slug,
            "name": self.name,
            "plan": self.plan,
            "used": self.used,
            "limit": self.limit,
            "remaining": remaining(self.used, self.limit),
            "overage": overage(self.used, self.limit),
        }


@dataclass(frozen=True, slots=True)
class MonthUsage:
    month: date
    projects: list[ProjectUsage]

    def body(self, scope: str) -> dict[str, Any]:
        """The JSON answer; ``scope`` says whose projects these are (``all``/``member``)."""
        return {
            "scope": scope,
            "month": self.month.strftime("%Y-%m"),
            "projects": [p.body() for p in self.projects],
            "overageThisMonth": sum(overage(p.used, p.limit) for p in self.projects),
        }


async def read_month_usage(
    conn: AsyncConnection, member: str | None, shards: Shards | None = None
) -> MonthUsage:
    """This month's figures of the projects ``member`` (a user id) belongs to, or of every
    project when ``member`` is None (an operator), by slug."""
    cursor = await conn.execute(_MONTH_SQL)
    row = await cursor.fetchone()
    assert row is not None
    month: date = row[0]
    if member is None:
        cursor = await conn.execute(_ALL_SQL, {"month": month})
    else:
        cursor = await conn.execute(_MEMBER_SQL, {"month": month, "user_id": member})
    projects = [
        ProjectUsage(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), str(r[6]))
        for r in await cursor.fetchall()
    ]
    elsewhere = [p for p in projects if p.shard != DEFAULT_SHARD]
    if elsewhere:
        used = await _used_on_shards(
            shards or {}, month, {p.project_id: p.shard for p in elsewhere}
        )
        projects = [
            replace(p, used=used.get(p.project_id, 0)) if p.shard != DEFAULT_SHARD else p
            for p in projects
        ]
    return MonthUsage(month, projects)


async def overage_this_month(conn: AsyncConnection, shards: Shards | None = None) -> int:
    """Every project's overage this month, summed (the ops view's total)."""
    cursor = await conn.execute(_OVERAGE_SQL)
    row = await cursor.fetchone()
    total = int(row[0]) if row else 0
    if shards and len(shards) > 1:
        cursor = await conn.execute(_SHARDED_LIMITS_SQL, (DEFAULT_SHARD,))
        limits = {str(p): (str(s), int(n)) for p, s, n in await cursor.fetchall()}
        cursor = await conn.execute(_MONTH_SQL)
        month_row = await cursor.fetchone()
        assert month_row is not None
        used = await _used_on_shards(shards, month_row[0], {p: s for p, (s, _) in limits.items()})
        total += sum(overage(n, limits[p][1]) for p, n in used.items())
    return total


async def _used_on_shards(shards: Shards, month: date, placed: Mapping[str, str]) -> dict[str, int]:
    """This month's counts of projects on other shards, each read from its shard's database
    (the projects of a shard this process was not given read as 0)."""
    used: dict[str, int] = {}
    for shard in sorted(set(placed.values())):
        pool = shards.get(shard)
        if pool is None:
            continue
        ids = sorted(p for p, s in placed.items() if s == shard)
        async with pool.connection() as conn:
            cursor = await conn.execute(_SHARD_USED_SQL, (month, ids))
            used.update({str(p): int(n) for p, n in await cursor.fetchall()})
    return used
