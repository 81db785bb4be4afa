"""Project memberships: who may see a project (member) and manage it (owner)."""

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection

from control_plane.projects import ProjectError


class UnknownUser(ProjectError):
    pass


class LastOwner(ProjectError):
    pass


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    email: str
    role: str
    created_at: datetime


def leaves_an_owner(roles: list[str], removed_role: str) -> bool:
    """Whether removing one member with ``removed_role`` leaves the project an owner."""
    owners = roles.count("owner") - (1 if removed_role == "owner" else 0)
    return owners >= 1


async def list_members(conn: AsyncConnection, project_id: str) -> list[Member]:
    cursor = await conn.execute(
        "SELECT u.id::text, u.email, m.role, m.created_at"
        " FROM project_members m JOIN users u ON u.id = m.user_id"
        " WHERE m.project_id = %s ORDER BY m.created_at, u.email",
        (project_id,),
    )
    return [Member(*row) for row in await cursor.fetchall()]


async def add_member(conn: AsyncConnection, project_id: str, email: str, role: str) -> Member:
    """Add the user with this email (or change their role)."""
    async with conn.transaction():
        cursor = await conn.execute(
            "SELECT id::text, email FROM users WHERE lower(email) = lower(%s)", (email.strip(),)
        )
        user = await cursor.fetchone()
        if user is None:
            raise UnknownUser(email)
        cursor = await conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role"
            " RETURNING created_at",
            (project_id, user[0], role),
        )
        row = await cursor.fetchone()
    assert row is not None
    return Member(str(user[0]), str(user[1]), role, row[0])


async def remove_member(conn: AsyncConnection, project_id: str, user_id: str) -> bool:
    """Remove a member; never the last owner. ``False`` when they were not a member."""
    async with conn.transaction():
        # Lock the project's memberships so two removals cannot both pass the check.
        cursor = await conn.execute(
            "SELECT user_id::text, role FROM project_members WHERE project_id = %s FOR UPDATE",
            (project_id,),
        )
        roles = {uid: role for uid, role in await cursor.fetchall()}
        if user_id not in roles:
            return False
        if not leaves_an_owner(list(roles.values()), roles[user_id]):
            raise LastOwner(user_id)
        await conn.execute(
            "DELETE FROM project_members WHERE project_id = %s AND user_id = %s",
            (project_id, user_id),
        )
    return True
