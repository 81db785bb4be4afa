import pytest

from contracts.lanes import Lane, lane_group, lane_topic, overflow_topic_for
from contracts.topics import Topic
from contracts.usage import OVERFLOW_SLOT_BASE, total_used, usage_slot


def test_each_lane_has_its_topic_and_group() -> None:
    assert overflow_topic_for(Topic.EVENTS) == Topic.OVERFLOW == "events-overflow"
    assert lane_topic(Lane.MAIN, "events") == "events"
    assert lane_topic(Lane.OVERFLOW, "events") == "events-overflow"
    assert lane_topic(Lane.OVERFLOW, "events", "hot") == "hot"
    assert lane_topic(Lane.MAIN, "events", "hot") == "events"
    assert lane_group("stream-workers", Lane.MAIN) == "stream-workers"
    assert lane_group("stream-workers", Lane.OVERFLOW) == "stream-workers-overflow"


def test_the_lanes_count_usage_in_slots_of_their_own() -> None:
    main = {usage_slot(Lane.MAIN, p) for p in range(12)}
    overflow = {usage_slot(Lane.OVERFLOW, p) for p in range(12)}
    assert main == set(range(12))
    assert overflow == set(range(OVERFLOW_SLOT_BASE, OVERFLOW_SLOT_BASE + 12))
    # Readers sum every slot, whatever the lane.
    fields = {b"p3": b"10", b"o3": b"7", b"p103": b"5", b"o103": b"2", b"limit": b"99"}
    assert total_used(fields) == 15


@pytest.mark.parametrize("partition", [-1, OVERFLOW_SLOT_BASE])
def test_a_partition_past_the_slot_range_is_refused(partition: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        usage_slot(Lane.OVERFLOW, partition)
