"""The sink's guard against a Kafka reset: what it knows of the topic, which partitions
it holds, and the checks (stream_workers/consistency.py decides, this runs them).

It checks every stored offset of its topic against Kafka at the worker's start, every
``RA_WORKER_TOPIC_CHECK_SECONDS``, and — through ``Unchecked`` — before applying any
batch that re-delivers or skips offsets, with a check begun after that batch came: a
recreated topic looks just like a re-delivery from inside a batch. A partition found
inconsistent is marked in ``consumer_offsets`` (so every worker and view sees it), logged
once per process at ERROR with the two offsets, and set in ``worker_partition_inconsistent``.
"""

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace

from psycopg import AsyncConnection

from common.lag import Inconsistency, describe_inconsistency
from stream_workers import store
from stream_workers.consistency import StoredOffset, Verdict, delivery, judge
from stream_workers.metrics import Metrics
from stream_workers.topic_identity import TopicReader, TopicState

logger = logging.getLogger(__name__)


class TopicUnavailable(Exception):
    """Kafka does not have the topic: its stored offsets cannot be checked."""


class Unchecked(Exception):
    """A batch re-delivers or skips offsets and the topic was not checked since it came."""


class OffsetGuard:
    def __init__(
        self, consumer: str, topic: str, metrics: Metrics, topics: TopicReader | None
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._metrics = metrics
        # Without a reader (the sink's own tests) there is nothing to check against:
        # re-deliveries are taken as they come, skipped offsets are still held.
        self._topics = topics
        self._state: TopicState | None = None  # the topic at the last check
        self._checked_at = float("-inf")  # when that check began (monotonic)
        self._held: dict[int, str] = {}  # partition -> Inconsistency, as last seen

    @property
    def held_partitions(self) -> frozenset[int]:
        return frozenset(self._held)

    @property
    def topic_id(self) -> uuid.UUID | None:
        return self._state.topic_id if self._state else None

    def gaps(
        self,
        offsets: Mapping[int, Sequence[int]],
        rows: Mapping[int, StoredOffset],
        arrived: float,
    ) -> list[Verdict]:
        """The partitions of a batch (its ``offsets`` per partition, which all came before
        ``arrived``) whose records skip offsets: to hold. Raises ``Unchecked`` when the
        batch re-delivers or skips offsets and the topic was not checked since."""
        found_gaps = []
        starts = self._state.starts if self._state else {}
        for partition, seen in offsets.items():
            row = rows[partition]
            if row.inconsistent is not None:
                continue
            found = delivery(seen, row.next_offset, starts.get(partition))
            if not found.needs_check:
                continue
            if self._topics is not None and self._checked_at < arrived:
                raise Unchecked
            if found.gap_at is not None:
                found_gaps.append(
                    Verdict(
                        partition,
                        row.topic_id,
                        row.log_start,
                        Inconsistency.OFFSET_GAP,
                        found.gap_at,
                        new=True,
                    )
                )
        return found_gaps

    async def check(self, conn: AsyncConnection) -> list[Verdict]:
        """Check every stored offset of the topic against Kafka, on ``conn`` (outside a
        transaction); store and report what changed."""
        if self._topics is None:
            return []
        began = time.monotonic()
        state = await self._read()
        async with conn.transaction():
            rows = await store.lock_topic_offsets(conn, self._consumer, self._topic)
            verdicts = [judge(row, state) for row in rows]
            if any(v.new for v in verdicts):
                # Kafka was read before the rows were locked, and a batch may have moved
                # them since: read it again under the locks before holding anything.
                began = time.monotonic()
                state = await self._read()
                verdicts = [judge(row, state) for row in rows]
            changed = [v for v, row in zip(verdicts, rows, strict=True) if v.changes(row)]
            await store.save_verdicts(conn, self._consumer, self._topic, changed)
        self._state, self._checked_at = state, began
        for verdict, row in zip(verdicts, rows, strict=True):
            self.note(replace(row, inconsistent=verdict.problem, kafka_offset=verdict.kafka_offset))
        return verdicts

    async def _read(self) -> TopicState:
        assert self._topics is not None
        state = await self._topics.read(self._topic)
        if state is None:
            raise TopicUnavailable(f"topic {self._topic} not found: offsets not checked")
        return state

    def note(self, row: StoredOffset) -> None:
        """Report a partition's state: the gauge, and an ERROR line the first time this
        process sees it held."""
        partition = row.partition
        gauge = self._metrics.inconsistent.labels(self._topic, str(partition))
        if row.inconsistent is None:
            gauge.set(0)
            self._held.pop(partition, None)
            return
        gauge.set(1)
        if partition in self._held:
            return
        self._held[partition] = row.inconsistent
        logger.error(
            "partition %d of topic %s is inconsistent with Kafka and held (nothing applied,"
            " nothing skipped) until an operator recovers it: %s (docs/operations.md,"
            " 'Kafka was reset')",
            partition,
            self._topic,
            describe_inconsistency(row.inconsistent, row.next_offset, row.kafka_offset),
        )
