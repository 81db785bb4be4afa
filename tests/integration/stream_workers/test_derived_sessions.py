"""Derived sessions (stream_workers/sessions.py) through the sink against real PostgreSQL:
events that came with ``$derive`` get one session per 30 idle minutes per distinct id,
across batches, the same as a reference model over random batches; a late upload gets its
fixed window; repeats change nothing; rollups count the derived sessions; a person
deletion and the retention run remove the stored sessions."""

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from contracts.events import DERIVE_SESSION, EventRecord
from control_plane.deletions import request_deletion
from stream_workers.erasure import Eraser
from stream_workers.received import RawRecord
from stream_workers.retention import Retainer
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

IDLE = 30  # minutes
# Two days ago, on a 30-minute boundary: the fixed windows of late uploads start there.
START = datetime.fromtimestamp(time.time() // (IDLE * 60) * IDLE * 60, UTC) - timedelta(days=2)


class Log:
    """The records sent so far, so each batch gets the next offsets of its partitions."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.sent: list[EventRecord] = []
        self.n = 0

    def event(self, who: str, minutes: float, session: str = DERIVE_SESSION) -> EventRecord:
        self.n += 1
        return record(
            self.project,
            "$pageview",
            START + timedelta(minutes=minutes),
            who,
            session_id=session,
            insert_id=f"i{self.n}",
        )

    def batch(self, *records: EventRecord) -> list[RawRecord]:
        raws = as_raw(self.sent + list(records), partitions=2)[len(self.sent) :]
        self.sent += records
        return raws


def stored(database: str, project: str) -> dict[str, str]:
    """Each stored event's session id, by insert id."""
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT insert_id, session_id FROM events WHERE project_id = %s", (project,)
        ).fetchall()
    return dict(rows)


def state(database: str, project: str) -> dict[str, tuple[int, int, int]]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT distinct_id, seed, first_ms, last_ms FROM derived_sessions"
            " WHERE project_id = %s",
            (project,),
        ).fetchall()
    return {d: (seed, first, last) for d, seed, first, last in rows}


async def test_thirty_idle_minutes_make_a_new_session_across_batches(sink, make_project, database):
    log = Log(await make_project())
    # Out of order within the batch; "a" is never 30 minutes idle from 0 to 40.
    first = [log.event("a", 10), log.event("a", 0), log.event("b", 0), log.event("a", 40)]
    assert (await sink.apply(log.batch(*first))).applied == 4
    ids = stored(database, log.project)
    assert ids["i1"] == ids["i2"] == ids["i4"] != ids["i3"]  # another person, another session
    assert all(v.startswith("$s_") for v in ids.values())
    # The next batch: 31 minutes after minute 40 opens one; "b" at 20 minutes continues.
    later = [log.event("a", 71), log.event("a", 75), log.event("b", 20)]
    await sink.apply(log.batch(*later))
    ids = stored(database, log.project)
    assert ids["i5"] == ids["i6"] != ids["i1"]
    assert ids["i7"] == ids["i3"]
    minute = 60_000
    start_ms = int(START.timestamp() * 1000)
    assert state(database, log.project) == {
        "a": (start_ms + 71 * minute, start_ms + 71 * minute, start_ms + 75 * minute),
        "b": (start_ms, start_ms, start_ms + 20 * minute),
    }


async def test_own_session_ids_are_kept_and_a_late_upload_gets_its_window(
    sink, make_project, database
):
    log = Log(await make_project())
    await sink.apply(log.batch(log.event("c", 100), log.event("c", 101, session="mine")))
    before = state(database, log.project)
    # Over 30 minutes before the stored session: one fixed window (minutes 0-30).
    await sink.apply(log.batch(log.event("c", 1), log.event("c", 5), log.event("c", 31)))
    ids = stored(database, log.project)
    assert ids["i2"] == "mine"
    assert ids["i3"] == ids["i4"] != ids["i1"]
    assert ids["i5"] not in (ids["i3"], ids["i1"])  # the next window
    assert state(database, log.project) == before  # a late upload leaves the session be


async def test_a_repeat_changes_nothing_and_rollups_count_derived_sessions(
    sink, make_project, database
):
    log = Log(await make_project())
    events = [log.event(f"u{n % 3}", 7 * n) for n in range(12)]  # 0..77 minutes
    await sink.apply(log.batch(*events))
    ids, kept = stored(database, log.project), state(database, log.project)
    # A client's retry: new records, the same insert ids, an hour later.
    repeat = [
        record(
            log.project,
            "$pageview",
            START + timedelta(minutes=7 * n + 60),
            f"u{n % 3}",
            session_id=DERIVE_SESSION,
            insert_id=f"i{n + 1}",
        )
        for n in range(12)
    ]
    result = await sink.apply(log.batch(*repeat))
    assert result.duplicates == 12
    assert stored(database, log.project) == ids and state(database, log.project) == kept
    # Each id's events are 21 minutes apart: one session each, three in all.
    assert len(set(ids.values())) == 3
    with psycopg.connect(database) as conn:
        (sessions,) = conn.execute(
            "SELECT public.hll_cardinality(public.hll_union_agg(sessions)) FROM rollups"
            " WHERE project_id = %s AND granularity = 'day'",
            (log.project,),
        ).fetchone() or (None,)
    assert sessions == 3


def reference(batches: list[list[tuple[str, int, int]]]) -> dict[int, tuple[str, object]]:
    """The sessions of ``(who, minute, number)`` events batch after batch, as the contract
    says: per distinct id in time order, a gap of more than 30 minutes after the latest
    earlier event opens a session; an event more than 30 minutes before its stored
    session's first is a late one with its window. Each event's session as ``(who, seed)``."""
    sessions: dict[str, tuple[int, int, int]] = {}  # who -> (seed, first, last)
    out: dict[int, tuple[str, object]] = {}
    for batch in batches:
        for who, minute, number in sorted(batch, key=lambda e: (e[0], e[1], e[2])):
            seed, first, last = sessions.get(who, (-1, 0, -(10**9)))
            if seed >= 0 and minute < first - IDLE:
                out[number] = (who, f"w{minute // IDLE}")
                continue
            if minute > last + IDLE:
                seed, first, last = minute, minute, minute
            else:
                first, last = min(first, minute), max(last, minute)
            sessions[who] = (seed, first, last)
            out[number] = (who, seed)
    return out


def same_partition(left: dict[int, Any], right: dict[int, Any]) -> bool:
    """Whether two labellings group the same events together."""
    pairs = {(left[n], right[n]) for n in left}
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


async def test_random_batches_agree_with_the_reference(sink, make_project, database):
    log = Log(await make_project())
    rng = random.Random(19)
    batches: list[list[tuple[str, int, int]]] = []
    clock = 0
    for _ in range(8):
        clock += rng.randint(0, 50)
        batch = []
        for _ in range(rng.randint(1, 30)):
            who = rng.choice("pqrs")
            minute = max(0, clock + rng.randint(-80, 40))  # some late, some out of order
            batch.append((who, minute, log.n + len(batch) + 1))
        batches.append(batch)
        records = [log.event(who, minute) for who, minute, _ in batch]
        assert (await sink.apply(log.batch(*records))).applied == len(records)
    ids = stored(database, log.project)
    derived = {int(insert_id[1:]): session for insert_id, session in ids.items()}
    expected = reference(batches)
    assert same_partition(derived, expected), (derived, expected)


async def test_a_person_deletion_and_the_retention_run_remove_stored_sessions(
    sink, make_project, database
):
    log = Log(await make_project())
    await sink.apply(log.batch(log.event("gone", 0), log.event("stays", 0), log.event("old", 0)))

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(database, autocommit=True)

    async with await connect() as conn:
        await request_deletion(conn, log.project, ["gone"], None)
        await conn.execute(
            "UPDATE derived_sessions SET touched_at = now() - interval '3 hours'"
            " WHERE distinct_id = 'old'"
        )
    eraser = Eraser("default", connect, connect, lease_seconds=60)
    try:
        assert await eraser.run_pending() == 1
    finally:
        await eraser.close()
    assert set(state(database, log.project)) == {"stays", "old"}
    assert await Retainer("default", connect, connect).run() is not None
    assert set(state(database, log.project)) == {"stays"}
