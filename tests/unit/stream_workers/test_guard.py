"""The sink's guard: a batch that re-delivers or skips offsets waits for a fresh check of
the topic; a held partition is reported once, loudly, and in the gauge."""

import logging
import time
from typing import Any, cast

import pytest

from common.lag import Inconsistency
from stream_workers.consistency import StoredOffset
from stream_workers.guard import OffsetGuard, Unchecked
from stream_workers.metrics import Metrics
from stream_workers.topic_identity import TopicReader

ROWS = {0: StoredOffset(0, 10), 1: StoredOffset(1, 10)}


def guard(reader: bool = True) -> tuple[OffsetGuard, Metrics]:
    metrics = Metrics()
    # Never read in these tests: only whether there is one to check with matters.
    topics = cast(TopicReader, object()) if reader else None
    return OffsetGuard("g", "events", metrics, topics), metrics


def test_a_batch_that_continues_exactly_is_applied_without_a_check() -> None:
    g, _ = guard()
    assert g.gaps({0: [10, 11], 1: [10]}, ROWS, time.monotonic()) == []


def test_a_redelivery_waits_for_a_check_begun_after_the_batch_came() -> None:
    g, _ = guard()
    with pytest.raises(Unchecked):
        g.gaps({0: [8, 9, 10]}, ROWS, time.monotonic())


def test_without_a_reader_a_redelivery_is_taken_as_it_comes_and_a_gap_still_held() -> None:
    g, _ = guard(reader=False)
    assert g.gaps({0: [8, 9, 10]}, ROWS, time.monotonic()) == []
    [gap] = g.gaps({0: [10], 1: [15, 16]}, ROWS, time.monotonic())
    assert (gap.partition, gap.problem, gap.kafka_offset) == (1, Inconsistency.OFFSET_GAP, 15)


def test_a_held_partition_is_not_checked_again() -> None:
    g, _ = guard()
    rows = {0: StoredOffset(0, 10, inconsistent=Inconsistency.TOPIC_RECREATED)}
    assert g.gaps({0: [0, 1]}, rows, time.monotonic()) == []


def test_a_held_partition_is_logged_once_with_both_offsets_and_gauged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    g, metrics = guard()
    held = StoredOffset(3, 50, inconsistent=Inconsistency.BEYOND_LOG_END, kafka_offset=5)
    with caplog.at_level(logging.ERROR, logger="stream_workers.guard"):
        g.note(held)
        g.note(held)
    [line] = caplog.records
    assert "partition 3 of topic events" in line.getMessage()
    assert "stored next offset 50" in line.getMessage() and "log end 5" in line.getMessage()
    assert g.held_partitions == {3}
    gauge: Any = metrics.registry.get_sample_value(
        "worker_partition_inconsistent", {"topic": "events", "partition": "3"}
    )
    assert gauge == 1
    g.note(StoredOffset(3, 0))  # an operator's reset (workers stopped) cleared it
    assert g.held_partitions == frozenset()
    assert (
        metrics.registry.get_sample_value(
            "worker_partition_inconsistent", {"topic": "events", "partition": "3"}
        )
        == 0
    )
