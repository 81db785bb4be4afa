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


async def list_members(conn: AsyncConnection, project_id: str) -> list[Member]:
    cursor = await conn.execute(
        "SELECT u.id::text, u.email, m.role, m.created_at"
        " FROM project_members m JOIN users u ON u.id = m.user_id"
        " WHERE m.project_id = %s ORDER BY m.created_at, u.email",
        (project_id,),
    )
    return [Member(*row) for row in await cursor.fetchall()]


async def add_member(conn: AsyncConnection, project_id: str, email: str, role: str) -> Member:
    """Add the user with this email at once (fixtures, operators' tools). The API invites
    instead (``invitations``): nobody joins a project without accepting."""
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


async def _lock_roles(conn: AsyncConnection, project_id: str) -> dict[str, str]:
    """The project's memberships, locked so two changes cannot both pass the owner check."""
    cursor = await conn.execute(
        "SELECT user_id::text, role FROM project_members WHERE project_id = %s FOR UPDATE",
        (project_id,),
    )
    return {uid: role for uid, role in await cursor.fetchall()}


def keeps_an_owner(roles: dict[str, str], user_id: str, new_role: str | None) -> bool:
    """Whether giving ``user_id`` ``new_role`` (``None``: removing them) leaves an owner."""
    after = {**roles}
    if new_role is None:
        after.pop(user_id, None)
    else:
        after[user_id] = new_role
    return "owner" in after.values()


async def member_by_email(conn: AsyncConnection, project_id: str, email: str) -> Member | None:
    cursor = await conn.execute(
        "SELECT u.id::text, u.email, m.role, m.created_at"
        " FROM project_members m JOIN users u ON u.id = m.user_id"
        " WHERE m.project_id = %s AND lower(u.email) = lower(%s)",
        (project_id, email.strip()),
    )
    row = await cursor.fetchone()
    return None if row is None else Member(*row)


async def set_role(conn: AsyncConnection, project_id: str, user_id: str, role: str) -> bool:
    """Change a member's role; never the last owner's to member. ``False`` when they are
    not a member."""
    async with conn.transaction():
        roles = await _lock_roles(conn, project_id)
        if user_id not in roles:
            return False
        if not keeps_an_owner(roles, user_id, role):
            raise LastOwner(user_id)
        await conn.execute(
            "UPDATE project_members SET role = %s WHERE project_id = %s AND user_id = %s",
            (role, project_id, user_id),
        )
    return True


async def remove_member(conn: AsyncConnection, project_id: str, user_id: str) -> bool:
    """Remove a member; never the last owner. ``False`` when they were not a member."""
    async with conn.transaction():
        roles = await _lock_roles(conn, project_id)
        if user_id not in roles:
            return False
        if not keeps_an_owner(roles, user_id, None):
            raise LastOwner(user_id)
        await conn.execute(
            "DELETE FROM project_members WHERE project_id = %s AND user_id = %s",
            (project_id, user_id),
        )
    return True
