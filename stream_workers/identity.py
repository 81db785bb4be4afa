"""Identity merge (issue 18): an event carrying ``$anonDistinctId`` makes two distinct ids one
person.

The event's ``distinctId`` is the known id and ``properties.$anonDistinctId`` the earlier
one: the ``$identify`` event of the browser SDK's ``identify()`` and the Python SDK's
``identify()``/``alias()``, and any drop-in call that names both ids (a Segment call with
both ``userId`` and ``anonymousId``, ingest_gateway.dropin). The
sink applies the merges of a batch's applied records in its transaction, in topic order,
so each is applied exactly once with the offsets that say so (a repeat is a no-op anyway).

``person_aliases`` (migration 0040) maps each merged id to its person, always a root (an
id with no row): merging ``anon`` into ``known`` points ``anon``'s root and every id
pointing at it to ``known``'s root. Union is order-free, so replaying the log (any order
of the partitions' batches) ends with the same persons; the person's *name* (its root) is
the first id merged into, which a query never shows. Merges of one project are serialized
by a lock of their own, taken in project order: two workers merging overlapping ids at
once would otherwise leave a person pointing at a non-root (today their batches' usage row
locks serialize them too, within one usage month; the lock does not depend on that).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import AsyncConnection

from contracts.erasure import MAX_DISTINCT_ID_CHARS, project_lock_key

ANON_KEY = "$anonDistinctId"


@dataclass(frozen=True, slots=True)
class Merge:
    project_id: str
    anon: str
    known: str


def merges(rows: Iterable[tuple[str, str, object]]) -> list[Merge]:
    """The merges of ``(project, distinctId, $anonDistinctId)`` rows, in their order, each
    pair once; an anonymous id that is not a non-empty string of at most 200 characters, or
    is the known id itself, merges nothing."""
    out: dict[Merge, None] = {}
    for project, known, anon in rows:
        if isinstance(anon, str) and 0 < len(anon) <= MAX_DISTINCT_ID_CHARS and anon != known:
            out.setdefault(Merge(project, anon, known))
    return list(out)


def identity_lock_key(project_id: str) -> int:
    """The project's merge lock: another key space than its erasure lock."""
    return project_lock_key(project_id) ^ 0x1D


_STAGED = """
SELECT b.project_id::text, b.distinct_id, b.properties ->> %(key)s
FROM batch_events b
WHERE jsonb_typeof(b.properties -> %(key)s) = 'string'
  -- A deleted person's id is never merged (and so never stored) again.
  AND NOT EXISTS (
    SELECT 1 FROM person_tombstones t WHERE t.project_id = b.project_id
      AND t.person = sha256(convert_to(b.properties ->> %(key)s, 'UTF8')))
ORDER BY b.part, b.pos
"""

_ROOT = "SELECT person FROM person_aliases WHERE project_id = %s AND distinct_id = %s"

_REPOINT = (
    "UPDATE person_aliases SET person = %s, merged_at = now() WHERE project_id = %s AND person = %s"
)

_POINT = """
INSERT INTO person_aliases (project_id, distinct_id, person) VALUES (%s, %s, %s)
ON CONFLICT (project_id, distinct_id) DO UPDATE SET person = EXCLUDED.person, merged_at = now()
"""


async def merge_staged(conn: AsyncConnection) -> int:
    """Apply the merges of the staged (applied) records of the batch; how many changed
    a person."""
    cursor = await conn.execute(_STAGED, {"key": ANON_KEY})
    found = merges(await cursor.fetchall())
    if not found:
        return 0
    await lock(conn, {m.project_id for m in found})
    return sum([await apply(conn, m) for m in found])


async def lock(conn: AsyncConnection, projects: Iterable[str]) -> None:
    keys = sorted({identity_lock_key(p) for p in projects})
    await conn.execute(
        "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) k", (keys,)
    )


async def root(conn: AsyncConnection, project_id: str, distinct_id: str) -> str:
    row = await (await conn.execute(_ROOT, (project_id, distinct_id))).fetchone()
    return str(row[0]) if row else distinct_id


async def apply(conn: AsyncConnection, merge: Merge) -> bool:
    """One merge; False when the two ids were one person already."""
    known = await root(conn, merge.project_id, merge.known)
    anon = await root(conn, merge.project_id, merge.anon)
    if anon == known:
        return False
    await conn.execute(_REPOINT, (known, merge.project_id, anon))
    await conn.execute(_POINT, (merge.project_id, anon, known))
    return True


_EVERY_ID = """
WITH persons AS (
    SELECT coalesce(a.person, d) AS person
    FROM unnest(%(ids)s::text[]) d
    LEFT JOIN person_aliases a ON a.project_id = %(project)s AND a.distinct_id = d)
SELECT person FROM persons
UNION SELECT a.distinct_id FROM person_aliases a JOIN persons p USING (person)
WHERE a.project_id = %(project)s
UNION SELECT d FROM unnest(%(ids)s::text[]) d
"""

_FORGET = """
DELETE FROM person_aliases
WHERE project_id = %s AND (distinct_id = ANY(%s) OR person = ANY(%s))
"""


async def every_id(conn: AsyncConnection, project_id: str, distinct_ids: list[str]) -> list[str]:
    """A person deletion's ids with every id merged with them (their persons are deleted
    whole), sorted. Read under the project's lock, with the deletion's tombstones written
    in the same transaction: from then on no merge joins another id to these persons (a
    tombstoned id is never merged again), so a deletion carried out again after a crash
    finds the same ids."""
    cursor = await conn.execute(_EVERY_ID, {"ids": distinct_ids, "project": project_id})
    return sorted({str(d) for (d,) in await cursor.fetchall()})


async def forget(conn: AsyncConnection, project_id: str, distinct_ids: list[str]) -> None:
    """Their aliases removed: the last step of a person deletion."""
    await conn.execute(_FORGET, (project_id, distinct_ids, distinct_ids))
