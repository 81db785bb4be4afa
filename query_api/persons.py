"""SQL text shared by every raw-event query: who a row's person is, and whether bots count.

Identity (migration 0040): a distinct id merged by an ``$identify`` event has a row in
``person_aliases`` naming its person (always a root); every other id is a person of its
own. So a raw row's person is ``coalesce(a.person, e.distinct_id)`` through a LEFT JOIN,
which counts a user once before and after they log in, retroactively. Rollups hold
sketches of distinct ids and cannot be re-keyed, so their unique counts stay by id: every
answer says which (``meta.uniqueBy``).

Bots: the workers flag a known crawler's events ``properties.$bot = true`` (never
``false``). Rollups never hold them; raw rows do, so every raw read leaves them out unless
the query says ``includeBots``. Both are constant text: no value reaches them.
"""

from typing import Literal

UniqueBy = Literal["person", "distinctId"]

# The raw table is ``e``; ``person_aliases`` is ``a`` (it has no column named like the
# events' ``properties``, ``event`` or ``ts``, so filters' unqualified text stays valid).
PERSON = "coalesce(a.person, e.distinct_id)"
ALIASES = (
    "LEFT JOIN person_aliases a ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id"
)
# The rows ``properties @> '{"$bot": true}'`` leaves out, in the form cheapest to test on
# every row (a million rows: 180 ms against 260 ms for ``@>`` with a literal and 510 ms
# with ``jsonb_build_object``, which is stable, so evaluated per row). No braces: the
# funnel's statement is a template whose placeholders are braces.
BOT_FREE = "(properties -> '$bot') IS DISTINCT FROM 'true'::jsonb"
# A bot's row: the predicate of the partial index of bots' rows (migration 0041), written
# the same so the planner uses it.
BOT_ROW = "(properties -> '$bot') = 'true'::jsonb"


def bots_condition(include_bots: bool) -> str:
    """The condition that keeps a raw row: bots are left out unless ``include_bots``."""
    return "true" if include_bots else BOT_FREE


def bots_meta(include_bots: bool) -> str:
    return "included" if include_bots else "excluded"
