"""Derived sessions (issue 19, decision 0023): a session id for each staged event that came
with ``$derive`` (contracts.events.DERIVE_SESSION), one session per 30 idle minutes per
distinct id, as Mixpanel and Amplitude count them.

Segment's and Mixpanel's server libraries send no session id, and PostHog's send one only
from the browser; the gateway gives those events the marker and the sink derives their
sessions in the batch's transaction, after dedup and limits removed what is not applied,
before the raw rows and rollups are written. One statement per batch does it set-based:

- each distinct id's marked events, in time order, continue its stored session
  (``derived_sessions``, migration 0042) while each is at most ``idle`` after the latest
  event before it (the session's stored last event included), and open a new session
  otherwise;
- an event more than ``idle`` before its stored session's first event (a late upload) gets
  the fixed ``idle`` window its timestamp falls in, and leaves the stored session as it is;
- the session id is a hash of the project, the distinct id and the session's first event
  time (or the window): replaying the same records from the same stored state gives the
  same ids, and the state is saved with the offsets, so a crash re-derives the same;
- each distinct id's last session is stored for the next batch.

Two workers deriving for one distinct id at once (the hot-project lane and the main one)
take its stored row in key order (``FOR UPDATE``); a distinct id's events are otherwise on
one partition (the records' key), so one worker at a time.
"""

from psycopg import AsyncConnection

from contracts.events import DERIVE_SESSION

IDLE_MS = 30 * 60 * 1000
KEEP = "2 hours"  # a stored session untouched for this long is pruned

_DERIVE = """
WITH wanted AS (
    SELECT b.part, b.pos, b.project_id, b.distinct_id COLLATE "C" AS distinct_id,
           (extract(epoch FROM b.ts) * 1000)::bigint AS t
    FROM batch_events b
    WHERE b.session_id = %(marker)s
),
known AS (
    SELECT s.project_id, s.distinct_id COLLATE "C" AS distinct_id, s.seed, s.first_ms, s.last_ms
    FROM derived_sessions s
    WHERE (s.project_id, s.distinct_id) IN (SELECT project_id, distinct_id FROM wanted)
    ORDER BY s.project_id, s.distinct_id
    FOR UPDATE
),
placed AS (
    -- A late event is more than idle before its stored session; it sorts first (it is
    -- earlier than the rest) and opens nothing, so one ordering serves every window.
    SELECT w.*, k.seed AS k_seed, k.first_ms AS k_first, k.last_ms AS k_last,
           coalesce(w.t < k.first_ms - %(idle)s, false) AS late
    FROM wanted w LEFT JOIN known k USING (project_id, distinct_id)
),
opened AS (
    -- GREATEST skips NULLs: the reference is the latest earlier time, stored or batched.
    SELECT p.*,
           CASE WHEN p.late THEN NULL
                WHEN greatest(lag(p.t) OVER w, p.k_last) IS NULL
                  OR p.t > greatest(lag(p.t) OVER w, p.k_last) + %(idle)s THEN p.t
           END AS opens_at
    FROM placed p
    WINDOW w AS (PARTITION BY p.project_id, p.distinct_id ORDER BY p.t, p.part, p.pos)
),
labelled AS (
    -- A session's seed is the time of the event that opened it, the latest opening so far
    -- (times ascend); none yet continues the stored session.
    SELECT o.*, coalesce(max(o.opens_at) OVER w, o.k_seed) AS seed
    FROM opened o
    WINDOW w AS (PARTITION BY o.project_id, o.distinct_id ORDER BY o.t, o.part, o.pos
                 ROWS UNBOUNDED PRECEDING)
),
named AS (
    UPDATE batch_events b
    SET session_id = '$s_' || left(encode(sha256(convert_to(
            l.project_id::text || '|' || l.distinct_id || '|'
            || CASE WHEN l.late THEN 'w' || (l.t / %(idle)s)::text ELSE l.seed::text END,
            'UTF8')), 'hex'), 24)
    FROM labelled l
    WHERE b.part = l.part AND b.pos = l.pos
    RETURNING 1
),
latest AS (
    -- Each distinct id's last session (seeds ascend) holds its latest event. A session
    -- opened in the batch starts at its seed; the stored one, continued, keeps its times
    -- widened by the batch's.
    SELECT l.project_id, l.distinct_id, max(l.seed) AS seed, max(l.t) AS last_ms,
           min(l.t) FILTER (WHERE l.seed = l.k_seed) AS continued_first,
           min(l.k_seed) AS k_seed, min(l.k_first) AS k_first, max(l.k_last) AS k_last
    FROM labelled l
    WHERE NOT l.late
    GROUP BY l.project_id, l.distinct_id
)
INSERT INTO derived_sessions AS d (project_id, distinct_id, seed, first_ms, last_ms)
SELECT project_id, distinct_id, seed,
       CASE WHEN seed = k_seed THEN least(continued_first, k_first) ELSE seed END,
       CASE WHEN seed = k_seed THEN greatest(last_ms, k_last) ELSE last_ms END
FROM latest
ORDER BY project_id, distinct_id
ON CONFLICT (project_id, distinct_id) DO UPDATE
SET seed = EXCLUDED.seed, first_ms = EXCLUDED.first_ms, last_ms = EXCLUDED.last_ms,
    touched_at = now()
"""

_FORGET = "DELETE FROM derived_sessions WHERE project_id = %s AND distinct_id = ANY(%s)"

_PRUNE = f"DELETE FROM derived_sessions WHERE touched_at < now() - interval '{KEEP}'"  # noqa: S608 - constant SQL text


async def derive_staged(conn: AsyncConnection, idle_ms: int = IDLE_MS) -> None:
    """Give each staged record marked ``$derive`` its session id; store the sessions."""
    await conn.execute(_DERIVE, {"marker": DERIVE_SESSION, "idle": idle_ms})


async def forget(conn: AsyncConnection, project_id: str, distinct_ids: list[str]) -> None:
    """Their stored sessions removed: part of a person deletion."""
    await conn.execute(_FORGET, (project_id, distinct_ids))


async def prune(conn: AsyncConnection) -> int:
    """Delete the stored sessions untouched for ``KEEP``; how many."""
    cursor = await conn.execute(_PRUNE)
    return cursor.rowcount
