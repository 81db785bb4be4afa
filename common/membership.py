"""Which project a reference names, and whether a user is one of its members: the one
condition every service asks (the control plane to show and manage a project, the query
API before it answers).

A reference is a project's slug or its id (any spelling ``uuid.UUID`` reads). A project
the caller is not a member of and a project that does not exist are the same ``None``:
the services answer both with the same 403, so that nobody learns which slugs exist.
"""

import uuid
from typing import Any

from psycopg import AsyncConnection

# The longest reference that can name a project: slugs are at most 64 characters (the
# database's check), ids 45 in their longest spelling (``urn:uuid:…``).
MAX_REF_CHARS = 64

# The projects ``%(ref)s`` names (``%(ref_id)s``: the reference as an id, when it is one):
# compared as a uuid, so the primary key's index answers.
BY_REF = "(p.slug = %(ref)s OR p.id = %(ref_id)s::uuid)"
_MEMBER_PROJECT = (
    "FROM projects p JOIN project_members m ON m.project_id = p.id"
    f" WHERE m.user_id = %(user_id)s::uuid AND {BY_REF}"
)


def possible_ref(ref: str) -> bool:
    """Whether ``ref`` could name a project: anything else, NUL included (PostgreSQL's text
    cannot hold it), names none and is not sent to the database."""
    return 0 < len(ref) <= MAX_REF_CHARS and "\x00" not in ref


def ref_parameters(ref: str) -> dict[str, str | None]:
    """``BY_REF``'s parameters."""
    try:
        ref_id: str | None = str(uuid.UUID(ref))
    except ValueError:
        ref_id = None
    return {"ref": ref, "ref_id": ref_id}


async def member_project(
    conn: AsyncConnection[Any], user_id: str, ref: str, columns: str
) -> tuple[Any, ...] | None:
    """``columns`` (of ``projects p`` and ``project_members m``, a constant of the caller's)
    of the project ``ref`` names, if ``user_id`` is a member of it; else ``None``."""
    if not possible_ref(ref):
        return None
    cursor = await conn.execute(
        f"SELECT {columns} {_MEMBER_PROJECT}",  # columns: a constant of the caller's
        {"user_id": user_id, **ref_parameters(ref)},
    )
    return await cursor.fetchone()
