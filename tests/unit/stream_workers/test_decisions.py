from datetime import UTC, date, datetime, timedelta

from contracts.events import EventRecord
from stream_workers.decisions import (
    Positioned,
    apply_limits,
    arrival_order,
    select_new,
    unapplied,
)

NOW = datetime(2026, 2, 10, tzinfo=UTC)


def item(
    offset: int,
    project: str = "p",
    insert_id: str | None = None,
    received: datetime = NOW,
    partition: int = 0,
) -> Positioned:
    record = EventRecord(
        id=str(offset),
        project_id=project,
        event="e",
        timestamp=received,
        received_at=received,
        distinct_id="u",
        session_id="s",
        properties={},
        insert_id=insert_id,
    )
    return Positioned(partition, offset, record)


def test_unapplied_keeps_offsets_at_or_past_the_stored_next_offset() -> None:
    assert unapplied([(0, 4), (0, 5), (1, 0)], {0: 5}) == {(0, 5), (1, 0)}


def test_arrival_order_is_receive_time_then_topic_position() -> None:
    late = item(0, received=NOW + timedelta(seconds=1))
    early = item(9, partition=3)
    assert arrival_order([late, early]) == [early, late]


def test_select_new_drops_repeats_within_seven_days() -> None:
    items = [
        item(0, insert_id="a"),
        item(1, insert_id="a", received=NOW + timedelta(days=6)),
        item(2, insert_id="a", received=NOW + timedelta(days=7)),
        item(3),
        item(4, insert_id="b"),
    ]
    kept, changed = select_new(items, {("p", "b"): NOW - timedelta(days=1)})
    assert [i.offset for i in kept] == [0, 2, 3]
    assert changed == {("p", "a"): NOW + timedelta(days=7)}


def test_select_new_treats_none_as_never_seen_and_scopes_ids_per_project() -> None:
    kept, _ = select_new([item(0, "p", "a"), item(1, "q", "a")], {("p", "a"): None})
    assert len(kept) == 2


def test_apply_limits_accepts_exactly_up_to_the_limit() -> None:
    items = [item(n, partition=n % 2) for n in range(10)]
    outcome = apply_limits(items, {("p", date(2026, 2, 1)): 7}, {"p": 10})
    assert [i.offset for i in outcome.accepted] == [0, 1, 2]
    assert outcome.dropped == 7
    month = ("p", date(2026, 2, 1))
    assert (outcome.months[month].used, outcome.months[month].dropped) == (3, 7)
    assert outcome.parts[("p", date(2026, 2, 1), 1)].last_offset == 9


def test_apply_limits_counts_months_by_receive_time() -> None:
    january = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    outcome = apply_limits([item(0, received=january), item(1)], {}, {"p": 1})
    assert len(outcome.accepted) == 2


def test_unknown_project_gets_nothing() -> None:
    assert apply_limits([item(0, project="gone")], {}, {}).dropped == 1
