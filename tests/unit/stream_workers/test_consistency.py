"""Whether stored offsets still belong to the topic Kafka has (issue 16: a recreated topic's
records were skipped as already applied)."""

import uuid

import pytest

from common.lag import Inconsistency
from stream_workers.consistency import Delivery, StoredOffset, Verdict, delivery, judge
from stream_workers.topic_identity import TopicState

OLD, NEW = uuid.UUID(int=1), uuid.UUID(int=2)


def topic(start: int = 0, end: int = 100, topic_id: uuid.UUID = OLD) -> TopicState:
    return TopicState(topic_id, {0: start, 1: start}, {0: end, 1: end})


def test_offsets_within_the_same_topics_log_are_consistent_and_record_its_id() -> None:
    verdict = judge(StoredOffset(0, 40), topic(start=10))
    assert verdict == Verdict(0, OLD, 10, None)
    assert verdict.changes(StoredOffset(0, 40))  # the id and log start get stored
    assert not judge(StoredOffset(0, 40, OLD, 10), topic(start=10)).changes(
        StoredOffset(0, 40, OLD, 10)
    )


def test_a_recreated_topic_is_found_by_its_id_even_when_its_log_is_long_enough() -> None:
    # The new topic already holds more records than the old one had: offsets alone miss it.
    verdict = judge(StoredOffset(0, 40, OLD), topic(end=500, topic_id=NEW))
    assert (verdict.problem, verdict.kafka_offset, verdict.new) == (
        Inconsistency.TOPIC_RECREATED,
        500,
        True,
    )
    assert verdict.topic_id == OLD  # the stored offsets are still the old topic's


def test_a_stored_offset_past_the_log_end_is_a_reset_even_without_a_known_id() -> None:
    # Offsets stored before the topic id was (migration 0035): Kafka wiped, topic at 5.
    verdict = judge(StoredOffset(0, 40), topic(end=5, topic_id=NEW))
    assert (verdict.problem, verdict.kafka_offset) == (Inconsistency.BEYOND_LOG_END, 5)


def test_records_deleted_before_they_were_applied_are_missing() -> None:
    verdict = judge(StoredOffset(1, 40, OLD), topic(start=70))
    assert (verdict.problem, verdict.kafka_offset) == (Inconsistency.RECORDS_MISSING, 70)


def test_a_partition_that_applied_nothing_takes_the_topic_as_it_is() -> None:
    assert judge(StoredOffset(0, 0, OLD), topic(start=70, topic_id=NEW)) == Verdict(
        0, NEW, 70, None
    )


def test_a_held_partition_stays_held_whatever_kafka_says_now() -> None:
    held = StoredOffset(0, 40, OLD, 0, Inconsistency.BEYOND_LOG_END, 5)
    # The new topic grew past the stored offset: still not the records those offsets meant.
    verdict = judge(held, topic(end=900))
    assert (verdict.problem, verdict.kafka_offset, verdict.new) == (
        Inconsistency.BEYOND_LOG_END,
        5,
        False,
    )


def test_a_partition_the_recreated_topic_no_longer_has_is_inconsistent() -> None:
    assert judge(StoredOffset(7, 40, OLD), topic(topic_id=NEW)).problem == (
        Inconsistency.TOPIC_RECREATED
    )
    assert judge(StoredOffset(7, 40, OLD), topic()).problem is None  # nothing to compare


@pytest.mark.parametrize(
    ("offsets", "stored", "log_start", "expected"),
    [
        ([10, 11, 12], 10, None, Delivery(False, None)),  # continues where it stopped
        ([7, 8, 9, 10, 11], 10, None, Delivery(True, None)),  # a re-delivery (or a reset)
        ([0, 1, 2], 10, 0, Delivery(True, None)),  # a recreated topic looks the same
        ([14, 15], 10, None, Delivery(False, 14)),  # 10 to 13 never delivered
        ([10, 11, 20], 10, None, Delivery(False, 20)),  # a jump inside the batch
        ([9, 10, 10, 11], 10, None, Delivery(True, None)),  # the same offset twice
        ([5, 6], 0, 5, Delivery(False, None)),  # a new group starts at the log start
        ([9, 10], 0, 5, Delivery(False, 9)),  # ... not past it
        ([9, 10], 0, None, Delivery(False, None)),  # log start unknown: taken as it comes
    ],
)
def test_a_batch_continues_redelivers_or_skips(
    offsets: list[int], stored: int, log_start: int | None, expected: Delivery
) -> None:
    assert delivery(offsets, stored, log_start) == expected


def test_only_a_batch_that_continues_exactly_needs_no_check() -> None:
    assert not Delivery(False, None).needs_check
    assert Delivery(True, None).needs_check and Delivery(False, 3).needs_check
