"""Isolating refused records, against an in-memory store with the sink's exactly-once rules:
one transaction per piece writes its records and its partitions' next offsets, records
below a stored offset are skipped as re-delivered, and the whole batch is retried after an
infrastructure error (as ``stream_workers.retry`` does)."""

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import errors

from stream_workers.failures import Failure
from stream_workers.isolation import apply_isolating, halves


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    poison: bool = False
    refused: str | None = None  # set when it is to be applied as a dead letter


def position(r: Rec) -> tuple[int, int]:
    return r.partition, r.offset


def refuse(r: Rec, failure: Failure, detail: str) -> Rec:
    return Rec(r.partition, r.offset, r.poison, failure.code)


@dataclass
class Store:
    """The sink's transaction, in memory; fails for infrastructure on chosen calls."""

    infra_failures: set[int] = field(default_factory=set)
    next_offset: dict[int, int] = field(default_factory=dict)
    applied: Counter[tuple[int, int]] = field(default_factory=Counter)
    dead: Counter[tuple[int, int]] = field(default_factory=Counter)
    calls: int = 0

    async def apply(self, batch: Sequence[Rec]) -> int:
        self.calls += 1
        if self.calls in self.infra_failures:
            raise errors.AdminShutdown("terminating connection")
        fresh = [r for r in batch if r.offset >= self.next_offset.get(r.partition, 0)]
        if any(r.poison and r.refused is None for r in fresh):
            raise errors.ProgramLimitExceeded("index row size 2856 exceeds maximum 2704")
        for r in fresh:  # commit: rows and offsets together
            (self.dead if r.refused else self.applied)[position(r)] += 1
        for r in batch:
            self.next_offset[r.partition] = max(self.next_offset.get(r.partition, 0), r.offset + 1)
        return len(fresh)


async def until_done(store: Store, batch: Sequence[Rec]) -> None:
    while True:
        try:
            await apply_isolating(store.apply, batch, position, refuse)
            return
        except errors.AdminShutdown:
            continue


def topic(sizes: Sequence[int], poison: set[tuple[int, int]]) -> list[Rec]:
    """Records of partitions with ``sizes``, interleaved as a fetch hands them over."""
    out, offsets = [], [0] * len(sizes)
    while any(o < s for o, s in zip(offsets, sizes, strict=True)):
        for p, size in enumerate(sizes):
            if offsets[p] < size:
                out.append(Rec(p, offsets[p], (p, offsets[p]) in poison))
                offsets[p] += 1
    return out


def test_halves_keep_each_partitions_records_in_topic_order() -> None:
    batch = topic([3, 4, 1], set())
    first, second = halves(batch, position)
    assert len(first) == 4 and len(second) == 4
    for p in range(3):
        before = [r.offset for r in first if r.partition == p]
        after = [r.offset for r in second if r.partition == p]
        assert all(a < b for a in before for b in after)


async def test_one_refused_record_is_isolated_and_the_rest_applies_once() -> None:
    batch = topic([50, 50, 28], {(1, 17)})
    store = Store()
    results = await apply_isolating(store.apply, batch, position, refuse)
    assert store.dead == Counter({(1, 17): 1})
    assert set(store.applied) == {position(r) for r in batch} - {(1, 17)}
    assert set(store.applied.values()) == {1}
    assert sum(results) == len(batch)
    assert store.calls < 2 * 2 * 8  # about two transactions per level of a 128-record batch


async def test_an_infrastructure_error_is_raised_not_isolated() -> None:
    store = Store(infra_failures={1})
    with pytest.raises(errors.AdminShutdown):
        await apply_isolating(store.apply, topic([5], {(0, 2)}), position, refuse)
    assert not store.applied and not store.dead


async def test_a_whole_batch_of_refused_records_is_dead_lettered() -> None:
    batch = topic([3, 2], {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)})
    store = Store()
    await apply_isolating(store.apply, batch, position, refuse)
    assert set(store.dead) == {position(r) for r in batch} and not store.applied


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    poison_at=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 29)), max_size=6),
    infra_failures=st.sets(st.integers(1, 40), max_size=5),
    redelivered=st.integers(0, 10),
)
def test_any_refusals_and_infrastructure_failures_leave_every_good_record_applied_once(
    sizes: list[int],
    poison_at: list[tuple[int, int]],
    infra_failures: set[int],
    redelivered: int,
) -> None:
    batch = topic(sizes, set(poison_at))
    # A batch may start with a re-delivery of records an earlier batch applied.
    store = Store(infra_failures=infra_failures)
    earlier = [r for r in batch if r.offset < redelivered and not r.poison]
    store.next_offset = {p: min(redelivered, s) for p, s in enumerate(sizes)}
    store.applied.update(position(r) for r in earlier)
    poison = {position(r) for r in batch if r.poison and r.offset >= redelivered}

    asyncio.run(until_done(store, batch))

    good = {position(r) for r in batch} - {position(r) for r in batch if r.poison}
    assert set(store.applied) == good
    assert set(store.applied.values()) <= {1}  # never twice, across retries of the batch
    assert set(store.dead) == poison  # each refused record dead-lettered, once (no crash)
    assert set(store.dead.values()) <= {1}
    assert store.next_offset == dict(enumerate(sizes))
