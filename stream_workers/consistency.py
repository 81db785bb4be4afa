"""Whether a partition's stored offsets still belong to the topic Kafka has: pure decisions.

The sink keeps only records at or past a partition's stored next offset, taking those
below for re-deliveries. That holds while the stored offsets and Kafka's log are the same
topic's. When they are not — the topic deleted and created again, Kafka's data wiped, a
cluster replaced, records deleted by retention before they were applied, a consumer that
skipped records — skipping is silent loss. So a partition whose stored offsets contradict
Kafka is *held*: nothing of it is applied, skipped or acknowledged, and every view says
why, until an operator recovers it (docs/operations.md, "Kafka was reset").

Two checks decide it:
- ``judge``: a stored row against the topic as Kafka has it now (its id, log start and
  end), at the worker's start, every few seconds, and before any batch that re-delivers
  or skips offsets is applied;
- ``delivery``: a batch's offsets of one partition against the stored next offset: a
  batch continues exactly where the last one stopped, re-delivers (below it) or skips
  (a gap) — the last two only ever applied after a fresh ``judge``.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from common.lag import Inconsistency
from stream_workers.topic_identity import TopicState


@dataclass(frozen=True, slots=True)
class StoredOffset:
    """A ``consumer_offsets`` row, as locked by the sink or the check."""

    partition: int
    next_offset: int
    topic_id: uuid.UUID | None = None
    log_start: int | None = None
    inconsistent: str | None = None  # an ``Inconsistency``: the partition is held
    kafka_offset: int | None = None  # the Kafka offset that contradicted ``next_offset``


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check found for one partition, and what to store."""

    partition: int
    topic_id: uuid.UUID | None
    log_start: int | None
    problem: str | None  # an ``Inconsistency``, new or kept; None: consistent
    kafka_offset: int | None = None  # the Kafka offset that contradicts the stored one
    new: bool = False  # ``problem`` found now (not already stored)

    def changes(self, row: StoredOffset) -> bool:
        return self.new or (self.topic_id, self.log_start) != (row.topic_id, row.log_start)


def judge(row: StoredOffset, topic: TopicState) -> Verdict:
    """``row`` against the topic as Kafka has it now. A held partition stays held (only an
    operator's reset releases it); a row that applied nothing yet takes the topic as it is."""
    p, stored = row.partition, row.next_offset
    if row.inconsistent is not None:
        return Verdict(p, row.topic_id, row.log_start, row.inconsistent, row.kafka_offset)
    recreated = row.topic_id is not None and row.topic_id != topic.topic_id
    if p not in topic.ends:  # the topic has fewer partitions than the stored ones
        if recreated and stored > 0:
            return Verdict(p, row.topic_id, row.log_start, Inconsistency.TOPIC_RECREATED, new=True)
        return Verdict(p, row.topic_id, row.log_start, None)
    start, end = topic.starts[p], topic.ends[p]
    if stored == 0:  # nothing applied: nothing to lose, whatever the topic was
        return Verdict(p, topic.topic_id, start, None)
    if recreated:
        problem, offset = Inconsistency.TOPIC_RECREATED, end
    elif stored > end:
        problem, offset = Inconsistency.BEYOND_LOG_END, end
    elif stored < start:
        problem, offset = Inconsistency.RECORDS_MISSING, start
    else:
        return Verdict(p, topic.topic_id, start, None)
    # The stored id is kept: it names the topic the stored offsets belong to.
    return Verdict(p, row.topic_id, start, problem, offset, new=True)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a batch's offsets of one partition follow the stored next offset."""

    redelivered: bool  # some lie below it (applied before, if the topic is the same)
    gap_at: int | None  # the first offset delivered past records never delivered

    @property
    def needs_check(self) -> bool:
        """Re-delivered or skipped offsets are what a reset looks like from here: only a
        topic checked after the batch arrived tells a re-delivery from a reset."""
        return self.redelivered or self.gap_at is not None


def delivery(offsets: Iterable[int], stored: int, log_start: int | None) -> Delivery:
    """``offsets`` of one partition against its stored next offset. A partition that
    applied nothing (``stored`` 0) starts where Kafka's log starts (``log_start``, when
    known: a consumer group may begin there)."""
    every = set(offsets)
    expected = stored if stored > 0 else log_start
    if expected is None or not every:
        return Delivery(False, None)
    redelivered = stored > 0 and min(every) < stored
    for offset in sorted(o for o in every if o >= expected):
        if offset != expected:
            return Delivery(redelivered, offset)
        expected += 1
    return Delivery(redelivered, None)
