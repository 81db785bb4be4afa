"""Identity merge (issue 18) through the sink against real PostgreSQL: ``$identify`` events
make ids one person, chains end at one root, repeats and re-deliveries change nothing,
two workers merging overlapping ids at once leave every alias pointing at a root, and any
order of applying the log ends with the same persons."""

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from contracts.events import EventRecord
from control_plane.deletions import request_deletion
from stream_workers import identity
from stream_workers.erasure import Eraser
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def identify(
    project: str, known: str, anon: object, n: int = 0, received: datetime | None = None
) -> EventRecord:
    return record(
        project,
        "$identify",
        NOW + timedelta(seconds=n),
        known,
        properties={"$anonDistinctId": anon},
    )


def aliases(database: str, project: str) -> dict[str, str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT distinct_id, person FROM person_aliases WHERE project_id = %s", (project,)
        ).fetchall()
    return dict(rows)


def groups(mapping: dict[str, str]) -> set[frozenset[str]]:
    """The persons as sets of ids (a root with its aliases)."""
    members: dict[str, set[str]] = {}
    for alias, person in mapping.items():
        members.setdefault(person, {person}).add(alias)
    return {frozenset(m) for m in members.values()}


def assert_roots(mapping: dict[str, str]) -> None:
    assert not set(mapping.values()) & set(mapping), "an alias points at a non-root"


async def test_identify_merges_and_chains_end_at_one_root(sink, make_project, database):
    p = await make_project()
    events = [
        record(p, "$pageview", NOW, "anon-1"),
        identify(p, "user-1", "anon-1", 1),
        identify(p, "user-1", "anon-2", 2),  # the same user on another device
        identify(p, "user-2", "user-1", 3),  # alias: user-1's person into user-2's
        identify(p, "user-3", "user-3", 4),  # itself: nothing
        identify(p, "user-4", "", 5),  # no anonymous id: nothing
        identify(p, "user-4", 42, 6),  # not a string: nothing
    ]
    raws = as_raw(events, partitions=1)
    assert (await sink.apply(raws)).applied == len(events)
    assert aliases(database, p) == {"anon-1": "user-2", "anon-2": "user-2", "user-1": "user-2"}
    again = await sink.apply(raws)  # re-delivered: skipped by the stored offsets
    assert again.redelivered == len(events)
    repeat = [identify(p, "user-1", "anon-2", 7)]  # a later repeat of a merge: no change
    await sink.apply(as_raw(events + repeat, partitions=1)[len(events) :])
    assert aliases(database, p) == {"anon-1": "user-2", "anon-2": "user-2", "user-1": "user-2"}


async def test_any_event_carrying_an_anonymous_id_merges_once_per_pair(
    sink, make_project, database
):
    """A Segment call with both ``userId`` and ``anonymousId`` (ingest_gateway.dropin) is
    stored with ``$anonDistinctId``: the ids merge whatever the event, once per pair."""
    p = await make_project()
    carrying = [
        record(
            p,
            "checkout",
            NOW + timedelta(seconds=n),
            "user-9",
            properties={"$anonDistinctId": "anon-9"},
        )
        for n in range(3)
    ]
    result = await sink.apply(as_raw(carrying, partitions=1))
    assert result.applied == 3
    assert aliases(database, p) == {"anon-9": "user-9"}


async def test_concurrent_workers_and_any_order_end_with_the_same_persons(
    open_sink, make_project, database
):
    p, q = await make_project("plum"), await make_project("quince")
    rng = random.Random(5)
    ids = [f"id{n}" for n in range(40)]
    last_month = NOW - timedelta(days=40)

    def received(known: str) -> datetime:
        # One worker's records were received last month, the other's this month: their
        # batches lock different usage rows, which would otherwise serialize them.
        return last_month if hash((p, known)) % 4 < 2 else NOW

    pairs = [(rng.choice(ids), rng.choice(ids)) for _ in range(300)]
    events = [identify(p, k, a, n, received(k)) for n, (k, a) in enumerate(pairs)]
    events += [
        identify(q, known, anon, n) for n, (anon, known) in enumerate(itertools.pairwise(ids))
    ]
    raws = as_raw(events, partitions=4)
    one, two = await open_sink(), await open_sink()
    by_partition = [[r for r in raws if r.partition == n] for n in range(4)]
    longest = max(len(part) for part in by_partition)
    for start in range(0, longest, 10):  # two workers, their batches at the same time
        await asyncio.gather(
            one.apply([r for part in by_partition[:2] for r in part[start : start + 10]]),
            two.apply([r for part in by_partition[2:] for r in part[start : start + 10]]),
        )
    live = aliases(database, p)
    assert_roots(live)
    assert groups(aliases(database, q)) == {frozenset(ids)}  # a chain: one person

    # The same log applied in another order (a replay): the same persons.
    r = await make_project("raspberry")
    shuffled = [identify(r, e.distinct_id, e.properties["$anonDistinctId"]) for e in events[:300]]
    rng.shuffle(shuffled)
    await one.apply(as_raw(events + shuffled, partitions=4)[len(events) :])  # the log goes on
    replayed = aliases(database, r)
    assert_roots(replayed)
    assert groups(replayed) == groups(live)


async def test_merges_of_one_project_wait_for_each_other(make_project, database):
    """Two merges at once: the second reads roots only once the first has committed (one
    reading ``y`` as a root while the other points ``y`` elsewhere would leave ``x → y``
    pointing at a non-root)."""
    p = await make_project()
    first = await psycopg.AsyncConnection.connect(database)
    second = await psycopg.AsyncConnection.connect(database)
    try:
        await identity.lock(first, {p})  # the first batch's transaction, merging
        waiting = asyncio.create_task(identity.lock(second, {p}))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await identity.apply(first, identity.Merge(p, "x", "y"))
        await first.commit()
        await asyncio.wait_for(waiting, 5)
        await identity.apply(second, identity.Merge(p, "y", "z"))
        await second.commit()
    finally:
        await first.close()
        await second.close()
    assert aliases(database, p) == {"x": "z", "y": "z"}


async def test_deleting_a_person_deletes_every_id_merged_with_them(sink, make_project, database):
    p = await make_project()
    events = [
        record(p, "$pageview", NOW, "anon-1"),
        identify(p, "user-1", "anon-1", 1),
        record(p, "$pageview", NOW + timedelta(seconds=2), "user-1"),
        record(p, "$pageview", NOW, "someone-else"),
    ]
    await sink.apply(as_raw(events, partitions=1))

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(database, autocommit=True)

    async with await connect() as conn:
        deletion = await request_deletion(conn, p, ["user-1"], None)
    eraser = Eraser("default", connect, connect, lease_seconds=60)
    try:
        assert await eraser.run_pending() == 1
    finally:
        await eraser.close()
    with psycopg.connect(database) as conn:
        left = conn.execute("SELECT distinct_id FROM events WHERE project_id = %s", (p,)).fetchall()
        found = conn.execute("SELECT events FROM person_deletions WHERE id = %s", (deletion.id,))
        assert found.fetchone() == (3,)
    assert left == [("someone-else",)]
    assert aliases(database, p) == {}
    # A later merge naming the deleted anonymous id stores nothing of it again.
    late = [identify(p, "user-9", "anon-1", 9)]
    await sink.apply(as_raw(events + late, partitions=1)[len(events) :])
    assert aliases(database, p) == {}
