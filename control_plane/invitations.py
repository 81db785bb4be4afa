"""Invitations to a project: a one-time code mailed to an address, accepted by the person
who holds a (confirmed) account with that address.

Inviting never creates an account nor adds anyone: the invitee signs up (or logs in) and
accepts. The invitation answers the same whether or not the address has an account, so
owners cannot use it to learn who has one. Owners list and revoke open invitations.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import AsyncConnection

from contracts.sessions import new_token, token_digest
from control_plane.projects import ProjectError

INVITE_PREFIX = "ra_invite_"


class InvalidInvitation(ProjectError):
    """Unknown, expired, revoked or already accepted."""


class WrongRecipient(ProjectError):
    """Open, but for another address than the caller's."""


@dataclass(frozen=True, slots=True)
class Invitation:
    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime


async def create_invitation(
    conn: AsyncConnection,
    project_id: str,
    email: str,
    role: str,
    invited_by: str,
    ttl_seconds: int,
) -> tuple[Invitation, str]:
    """A new invitation (replacing an open one to the same address) and its code."""
    token = new_token(INVITE_PREFIX)
    async with conn.transaction():
        await conn.execute(
            "UPDATE project_invitations SET revoked_at = now() WHERE project_id = %s"
            " AND lower(email) = lower(%s) AND accepted_at IS NULL AND revoked_at IS NULL",
            (project_id, email.strip()),
        )
        cursor = await conn.execute(
            "INSERT INTO project_invitations"
            " (project_id, email, role, token_hash, invited_by, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, now() + %s)"
            " RETURNING id::text, email, role, created_at, expires_at",
            (
                project_id,
                email.strip(),
                role,
                token_digest(token),
                invited_by,
                timedelta(seconds=ttl_seconds),
            ),
        )
        row = await cursor.fetchone()
    assert row is not None
    return Invitation(*row), token


async def list_invitations(conn: AsyncConnection, project_id: str) -> list[Invitation]:
    """Open invitations (expired ones too, until replaced or revoked), oldest first."""
    cursor = await conn.execute(
        "SELECT id::text, email, role, created_at, expires_at FROM project_invitations"
        " WHERE project_id = %s AND accepted_at IS NULL AND revoked_at IS NULL"
        " ORDER BY created_at",
        (project_id,),
    )
    return [Invitation(*row) for row in await cursor.fetchall()]


async def revoke_invitation(conn: AsyncConnection, project_id: str, invitation_id: str) -> bool:
    cursor = await conn.execute(
        "UPDATE project_invitations SET revoked_at = now()"
        " WHERE project_id = %s AND id::text = %s AND accepted_at IS NULL AND revoked_at IS NULL",
        (project_id, invitation_id.lower()),
    )
    return cursor.rowcount == 1


async def accept_invitation(conn: AsyncConnection, token: str, user_id: str, email: str) -> str:
    """Join the project as invited; returns its id. An owner already stays owner."""
    digest = token_digest(token)
    async with conn.transaction():
        cursor = await conn.execute(
            "UPDATE project_invitations SET accepted_at = now(), accepted_by = %s"
            " WHERE token_hash = %s AND accepted_at IS NULL AND revoked_at IS NULL"
            " AND expires_at > now()"
            " AND lower(email) = lower(%s) RETURNING project_id::text, role",
            (user_id, digest, email.strip()),
        )
        row = await cursor.fetchone()
        if row is None:
            cursor = await conn.execute(
                "SELECT 1 FROM project_invitations WHERE token_hash = %s"
                " AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
                (digest,),
            )
            if await cursor.fetchone() is not None:
                raise WrongRecipient()
            raise InvalidInvitation()
        project_id, role = str(row[0]), str(row[1])
        await conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT (project_id, user_id) DO UPDATE SET role = CASE"
            " WHEN project_members.role = 'owner' THEN 'owner' ELSE EXCLUDED.role END",
            (project_id, user_id, role),
        )
    return project_id
