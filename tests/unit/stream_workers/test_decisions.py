from datetime import UTC, date, datetime, timedelta

from contracts.events import EventRecord
from stream_workers.decisions import (
    Positioned,
    arrival_order,
    count_usage,
    dedup_keys,
    dedup_rewrites,
    order_matters,
    select_new,
)
from stream_workers.raw_tables import partition_month

NOW = datetime(2026, 2, 10, tzinfo=UTC)


def record_at(
    received: datetime,
    timestamp: datetime,
    project: str = "p",
    insert_id: str | None = None,
    reserved: bool = True,
) -> EventRecord:
    return EventRecord(
        id="r",
        project_id=project,
        event="e",
        timestamp=timestamp,
        received_at=received,
        distinct_id="u",
        session_id="s",
        properties={},
        insert_id=insert_id,
        quota_reserved=reserved,
    )


def item(
    offset: int,
    project: str = "p",
    insert_id: str | None = None,
    received: datetime = NOW,
    partition: int = 0,
    reserved: bool = True,
) -> Positioned:
    record = record_at(received, received, project, insert_id, reserved)
    return Positioned.of(partition, offset, record)


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


FEBRUARY = date(2026, 2, 1)


def test_every_new_event_is_counted_past_any_limit() -> None:
    # No limit is decided here: the gateway reserved quota before answering 200, and an
    # event it let through unreserved (Redis down) is usage past the limit, never dropped.
    items = [item(n, partition=n % 2) for n in range(10)]
    outcome = count_usage(items, items, {"p"})
    assert outcome.accepted == items
    assert outcome.months[("p", FEBRUARY)].used == 10
    assert outcome.parts[("p", FEBRUARY, 1)].used == 5
    assert outcome.parts[("p", FEBRUARY, 1)].last_offset == 9


def test_repeats_are_seen_as_reservations_but_not_counted() -> None:
    items = [item(0, insert_id="a"), item(1, insert_id="a"), item(2, reserved=False)]
    kept, _ = select_new(items, {})
    outcome = count_usage(items, kept, {"p"})
    assert [i.offset for i in outcome.accepted] == [0, 2]
    part = outcome.parts[("p", FEBRUARY, 0)]
    assert (part.used, part.reserved_seen, part.last_offset) == (2, 2, 2)


def test_usage_months_are_by_receive_time() -> None:
    january = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    items = [item(0, received=january), item(1)]
    outcome = count_usage(items, items, {"p"})
    used = {key: delta.used for key, delta in outcome.months.items()}
    assert used == {("p", date(2026, 1, 1)): 1, ("p", FEBRUARY): 1}


def test_a_deleted_project_gets_nothing() -> None:
    items = [item(0, project="gone"), item(1)]
    outcome = count_usage(items, items, {"p"})
    assert [i.project_id for i in outcome.accepted] == ["p"]
    assert ("gone", FEBRUARY, 0) not in outcome.parts


def test_order_matters_only_when_a_key_repeats_or_was_counted_before() -> None:
    fresh = [item(0, insert_id="a"), item(1), item(2, insert_id="b")]
    assert dedup_keys(fresh) == [("p", "a"), ("p", "b")]
    assert not order_matters(dedup_keys(fresh), {})
    assert order_matters(dedup_keys(fresh), {("p", "z"): NOW})
    repeated = [item(0, insert_id="a"), item(1, insert_id="a", project="q"), item(2, insert_id="a")]
    assert order_matters(dedup_keys(repeated), {})


def test_dedup_rewrites_keys_counted_before_and_new_keys_counted_twice() -> None:
    week = timedelta(days=7)
    items = arrival_order(
        [
            item(0, insert_id="new"),  # claimed at its first sighting: right as it is
            item(1, insert_id="twice"),
            item(2, insert_id="twice", received=NOW + week),  # counted again a week on
            item(3, insert_id="old", received=NOW + week),  # counted before, 8 days ago
            item(4, insert_id="dup", received=NOW + timedelta(days=1)),  # counted 1 day ago
        ]
    )
    stored = {("p", "old"): NOW - timedelta(days=1), ("p", "dup"): NOW}
    kept, changed = select_new(items, stored)
    assert [i.offset for i in kept] == [0, 1, 2, 3]
    rewrites = dedup_rewrites(items, stored, changed)
    assert rewrites == {("p", "twice"): NOW + week, ("p", "old"): NOW + week}


def test_a_record_knows_its_usage_month_and_its_raw_partition_month() -> None:
    received = datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC)
    late = Positioned.of(0, 0, record_at(received, timestamp=received - timedelta(days=40)))
    assert (late.month, late.partition_month) == (date(2026, 3, 1), date(2026, 1, 1))
    wild = Positioned.of(0, 1, record_at(received, timestamp=received + timedelta(days=90)))
    assert wild.partition_month is None  # a wild client clock: the DEFAULT partition


def test_year_9999_goes_to_the_default_partition() -> None:
    received = datetime(9999, 11, 20, tzinfo=UTC)
    assert partition_month(datetime(9999, 12, 5, tzinfo=UTC), received) is None
    assert partition_month(datetime(9999, 11, 5, tzinfo=UTC), received) is None
