"""The harness's own decisions, without servers: what counts as lost, doubled or never
acknowledged, when a recovery happened, and how a row of the table reads."""

from collections import Counter

from tests.faults.judgement import Progress, Verdict, count_rows
from tests.faults.load import Load
from tests.faults.table import row


def load_with(batches: list[list[str]], acknowledged: list[int]) -> Load:
    load = Load("http://gateway.test/", "pk_test", batch_size=2)
    load.batches = batches
    load.acknowledged = {b: 0.0 for b in acknowledged}
    return load


def test_lost_doubled_and_unacknowledged_are_counted_by_insert_id() -> None:
    load = load_with([["a", "b"], ["c", "d"], ["e", "f"]], acknowledged=[0, 1])
    verdict = Verdict("test")
    # a twice (one double), b and c once, d missing (lost), e stored but never answered 200
    count_rows(verdict, load, Counter({"a": 2, "b": 1, "c": 1, "e": 1}))
    assert (verdict.answered_200, verdict.lost, verdict.doubled, verdict.unacknowledged) == (
        4,
        1,
        1,
        1,
    )


def test_recovery_is_when_the_offsets_moved_after_the_moment() -> None:
    progress = Progress([(1.0, {0: 5, 1: 5}), (2.0, {0: 5, 1: 5}), (3.0, {0: 6, 1: 5})])
    progress.samples += [(4.0, {0: 7, 1: 9}), (5.0, {0: 8, 1: 9})]
    assert progress.first_apply_after(1.5) == 3.0
    assert progress.every_partition_applied_after(1.5) == 4.0
    assert progress.every_partition_applied_after(4.5) is None  # partition 1 never moved


def test_a_row_names_the_5xx_with_their_code() -> None:
    verdict = Verdict("Kafka broker stop, 10 s", answered_200=1200, ingest_recovery=1.04)
    verdict.record_5xx(503, None, "ingest")
    verdict.record_5xx(503, None, "ingest")
    verdict.record_5xx(503, "DATABASE_UNAVAILABLE", "query")
    verdict.record_5xx(200, None, "ingest")
    assert row(verdict) == (
        "| Kafka broker stop, 10 s | 1,200 | 0 | 0 | 1.0 / - "
        "| 2x ingest 503, 1x query 503 DATABASE_UNAVAILABLE |"
    )
