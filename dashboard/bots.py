"""The ops view's crawler events this month, per project (issue 18, decision 0017).

The workers count each project's crawler events (``$bot``) per month in its shard's
``bot_events``, in the batch transaction that applies them. Usage counts them as events
too; rollups leave them out. Only projects with some this month are listed.
"""

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

_THIS_MONTH = (
    "SELECT project_id::text, events FROM bot_events"
    " WHERE month = date_trunc('month', now() AT TIME ZONE 'UTC')::date AND events > 0"
)
_SLUGS = "SELECT id::text, slug FROM projects WHERE id = ANY(%s::uuid[])"


async def bot_events_this_month(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Each project's crawler events this month (UTC) on one shard's database."""
    cursor = await conn.execute(_THIS_MONTH)
    return {str(p): int(n) for p, n in await cursor.fetchall()}


async def bots_body(
    control: AsyncConnection[Any], counts: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The counts as the ops JSON shows them, with each project's slug (from the control
    database), most first."""
    cursor = await control.execute(_SLUGS, (sorted(counts),))
    slugs = {str(p): str(s) for p, s in await cursor.fetchall()}
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"project": p, "slug": slugs.get(p), "events": n} for p, n in ordered]
