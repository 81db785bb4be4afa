"""The dedup pruning's horizon: the earliest receivedAt a record not yet applied can carry."""

from datetime import UTC, datetime, timedelta

from common.lag import StoredPartition
from stream_workers.decisions import DEDUP_WINDOW
from stream_workers.dedup_pruning import MARGIN, PartitionState, cutoff, horizon

NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)


def state(
    log_end: int,
    next_offset: int | None,
    last: datetime | None = None,
    inconsistency: str | None = None,
    partition: int = 0,
) -> PartitionState:
    stored = None if next_offset is None else StoredPartition(next_offset, last, inconsistency)
    return PartitionState("events", partition, log_end, stored)


def test_partitions_applied_to_their_end_leave_only_records_still_to_be_sent():
    states = [state(10, 10, NOW - timedelta(days=30)), state(0, None, partition=1)]
    assert horizon(states, NOW) == NOW - MARGIN
    assert cutoff(states, NOW) == NOW - MARGIN - DEDUP_WINDOW


def test_the_partition_furthest_behind_holds_the_horizon_back():
    states = [
        state(10, 10, NOW - timedelta(days=30)),
        state(10, 4, NOW - timedelta(days=3), partition=1),
        state(10, 9, NOW - timedelta(hours=2), partition=2),
    ]
    assert horizon(states, NOW) == NOW - timedelta(days=3) - MARGIN


def test_no_horizon_where_a_partition_gives_no_bound():
    assert horizon([state(5, None)], NOW) is None  # records, and nothing applied yet
    assert horizon([state(5, 3, None)], NOW) is None  # no receive time stored
    held = state(2, 9, NOW - timedelta(days=1), inconsistency="log truncated")
    assert horizon([state(10, 10, NOW), held], NOW) is None
    # Past the log end: the topic was made again (its records from then on still to
    # apply), before the workers' topic check has held the partition.
    assert horizon([state(3, 9, NOW - timedelta(days=1))], NOW) is None
    assert cutoff([held], NOW) is None


def test_no_partitions_at_all_bound_only_by_now():
    assert horizon([], NOW) == NOW - MARGIN
