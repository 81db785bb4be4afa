"""What ``python -m stream_workers offsets reset`` does to each partition, as it prints it
before it is confirmed."""

import uuid

from common.lag import Inconsistency
from stream_workers.consistency import StoredOffset
from stream_workers.offsets import PartitionReset, format_plan, plan_reset
from stream_workers.topic_identity import TopicState

NEW = uuid.UUID(int=2)


def test_every_partition_starts_again_at_its_log_start_and_a_vanished_one_goes() -> None:
    rows = [
        StoredOffset(0, 40, uuid.UUID(int=1), 0, Inconsistency.TOPIC_RECREATED, 5),
        StoredOffset(2, 9),
    ]
    topic = TopicState(NEW, {0: 0, 1: 3}, {0: 5, 1: 8})
    plan = plan_reset(rows, topic)
    assert [(p.partition, p.stored, p.start) for p in plan] == [
        (0, 40, 0),
        (1, None, 3),
        (2, 9, None),
    ]
    assert plan[0].inconsistency is not None and "stored next offset 40" in plan[0].inconsistency
    text = format_plan("g", "events", NEW, plan)
    assert "partition   0: next offset 40 -> 0 (log start)  [held: topic recreated" in text
    assert "partition   1: next offset - -> 3 (log start)" in text
    assert "partition   2: next offset 9 -> removed" in text


def test_a_consistent_partition_is_listed_without_a_reason() -> None:
    [only] = plan_reset([StoredOffset(0, 4)], TopicState(NEW, {0: 0}, {0: 4}))
    assert only == PartitionReset(0, 4, 0, None)
