"""Person deletion requests (issue 17): recorded here, carried out by the project's
shard's stream workers (stream_workers/erasure.py), which write back status and count."""

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection

from contracts.erasure import DeletionStatus


@dataclass(frozen=True, slots=True)
class Deletion:
    id: str
    status: DeletionStatus
    events: int  # raw events deleted so far (all of them once done)
    persons: int  # distinct ids requested (0 once done: they are cleared)
    created_at: datetime
    finished_at: datetime | None


_COLUMNS = "id::text, status, events, cardinality(distinct_ids), created_at, finished_at"


def _deletion(row: tuple[object, ...]) -> Deletion:
    id_, status, events, persons, created, finished = row
    return Deletion(
        str(id_),
        DeletionStatus(str(status)),
        int(events),  # type: ignore[call-overload]
        int(persons),  # type: ignore[call-overload]
        created,  # type: ignore[arg-type]
        finished,  # type: ignore[arg-type]
    )


_INSERT = (
    "INSERT INTO person_deletions (project_id, distinct_ids, requested_by)"  # noqa: S608 - constant columns
    f" VALUES (%s, %s, %s) RETURNING {_COLUMNS}"
)
_FIND = (
    f"SELECT {_COLUMNS} FROM person_deletions"  # noqa: S608 - constant column list
    " WHERE project_id = %s AND id::text = %s"
)


async def request_deletion(
    conn: AsyncConnection, project_id: str, distinct_ids: list[str], user_id: str | None
) -> Deletion:
    """Record a request for the persons' deletion (each id once, in the order given)."""
    unique = list(dict.fromkeys(distinct_ids))
    cursor = await conn.execute(_INSERT, (project_id, unique, user_id))
    row = await cursor.fetchone()
    assert row is not None
    return _deletion(row)


async def find_deletion(
    conn: AsyncConnection, project_id: str, deletion_id: str
) -> Deletion | None:
    cursor = await conn.execute(_FIND, (project_id, deletion_id))
    row = await cursor.fetchone()
    return None if row is None else _deletion(row)
