"""The exactly-once sink: one PostgreSQL transaction per batch, then Redis usage state.

Per batch: lock the stored offsets of its partitions, set aside the records of partitions
held as inconsistent with Kafka (stream_workers/consistency.py: neither applied, nor
skipped, nor acknowledged), keep only records at or past the stored offsets (a re-delivered
record was applied before — once the topic was checked to be the one those offsets belong
to), set the malformed ones aside, stage the rest
(each record was formatted for the staging COPY when it arrived), decide dedup under row
locks, remove the refused records (repeats, deleted projects) from the stage, write raw rows,
rollups, usage and the new offsets, dead-letter the malformed ones, and commit. A batch the
database refuses for a data reason is split until the refused records stand alone, which
are dead-lettered (stream_workers/isolation.py). Only then are the absolute usage counts
written to Redis, each guarded by its offset, so a replay or a late writer never moves
a count backwards.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime

from psycopg import AsyncConnection, errors
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.lanes import Lane
from contracts.usage import SET_IF_NEWER_SCRIPT, USAGE_TTL_SECONDS, UsageRow, usage_key
from stream_workers import identity, projections, sessions, store
from stream_workers.consistency import StoredOffset, Verdict
from stream_workers.decisions import (
    DedupKey,
    Positioned,
    UsageOutcome,
    arrival_order,
    bot_counts,
    count_usage,
    dedup_keys,
    dedup_rewrites,
    order_matters,
    select_new,
)
from stream_workers.enrichment import Enricher
from stream_workers.guard import OffsetGuard, Unchecked
from stream_workers.isolation import apply_isolating
from stream_workers.metrics import Metrics
from stream_workers.raw_tables import Partitioner, missing_partition
from stream_workers.received import (
    BatchResult,
    DeadLetter,
    KeysFor,
    RawRecord,
    Received,
    month_label,
    offsets_by_partition,
    position,
    receive,
    refuse,
    refused,
    total,
)
from stream_workers.shards import Directory, Scope
from stream_workers.topic_identity import TopicReader

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class PartitionsChanging(Exception):
    """The batch's raw tables were dropped again each time they were made (the retention
    job at work): an infrastructure error, the whole batch retried, never a dead letter."""


Reopen = Callable[[], Awaitable[AsyncConnection]]


class Sink:
    def __init__(
        self,
        conn: AsyncConnection,
        redis: Redis,
        *,
        consumer: str,
        topic: str,
        redis_prefix: str,
        dead_letter: DeadLetter,
        keys_for: KeysFor,
        metrics: Metrics,
        reopen: Reopen | None = None,
        lane: Lane = Lane.MAIN,
        topics: TopicReader | None = None,
        directory: Directory | None = None,
        enricher: Enricher | None = None,
    ) -> None:
        self._conn = conn
        self._enricher = enricher  # None: the package's geolocation database
        # Sharded (contracts/shards.py): the control database says which records are this
        # shard's and their plan limits; None: one database, which has the projects.
        self._directory = directory
        self._lane = lane  # whose usage slots this sink writes
        self._reopen = reopen
        self._redis = redis
        self._consumer = consumer
        self._topic = topic
        self._prefix = redis_prefix
        self._dead_letter = dead_letter
        self._keys_for = keys_for
        self.metrics = metrics
        self._set_if_newer = redis.register_script(SET_IF_NEWER_SCRIPT)
        self._partitioner = Partitioner()
        # One connection: a timer's resync must not interleave with a batch transaction.
        self._lock = asyncio.Lock()
        self.guard = OffsetGuard(consumer, topic, metrics, topics)

    @property
    def held_partitions(self) -> frozenset[int]:
        """Partitions held as inconsistent: their records must not be acknowledged."""
        return self.guard.held_partitions

    async def start(self) -> None:
        await self._conn.execute(projections.CREATE_STAGING)

    async def _connected(self) -> None:
        """A lost connection stays closed: open a new one (with its session's staging
        table) before the next try, or every retry of the batch would fail the same way."""
        if not (self._conn.closed or self._conn.broken) or self._reopen is None:
            return
        await self._conn.close()
        self._conn = await self._reopen()
        await self.start()
        logger.warning("database connection reopened")

    async def apply(self, batch: Sequence[RawRecord]) -> BatchResult:
        return await self.apply_received([receive(raw, self._enricher) for raw in batch])

    async def apply_received(self, received: Sequence[Received]) -> BatchResult:
        """Apply a batch; records the database refuses for a data reason are isolated and
        dead-lettered, an infrastructure error is raised (the caller retries the batch)."""
        pieces = await apply_isolating(self._apply_locked, received, position, refuse)
        return total(pieces)

    async def _apply_locked(self, received: Sequence[Received]) -> BatchResult:
        async with self._lock:
            await self._connected()
            return await self._apply(received)

    async def _apply(self, received: Sequence[Received]) -> BatchResult:
        if not received:
            return BatchResult(0, 0, 0, 0, 0)
        started = time.perf_counter()
        arrived = time.monotonic()  # every record of the batch came before this
        slots = {
            (i.item.partition_month, i.item.project_id)
            for i in received
            if i.item and i.item.partition_month is not None
        }
        await self._partitioner.ensure(self._conn, slots)
        scope = None
        if self._directory is not None:
            scope = await self._directory.scope(i.item.project_id for i in received if i.item)
        attempt = 1
        while True:
            try:
                result, usage_rows, limits, holds = await self._transaction(
                    received, arrived, scope
                )
                break
            except Unchecked:
                await self.guard.check(self._conn)  # begun after ``arrived``: the retry goes on
            except errors.CheckViolation as exc:
                if not missing_partition(exc):
                    raise
                if attempt == MAX_ATTEMPTS:  # not the records' fault: the batch is retried
                    raise PartitionsChanging() from exc
                self._partitioner.forget()
                await self._partitioner.ensure(self._conn, slots)
                logger.warning("a raw table was dropped under this batch; made again (%d)", attempt)
                attempt += 1
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == MAX_ATTEMPTS:
                    raise
                self.metrics.retries.inc()
                logger.warning("batch transaction retried after a lock conflict (%d)", attempt)
                attempt += 1
        for row in holds:
            self.guard.note(row)
        await self._publish_usage(usage_rows, limits)
        self._observe(result, len(received), time.perf_counter() - started)
        return result

    async def _transaction(
        self, batch: Sequence[Received], arrived: float, scope: Scope | None
    ) -> tuple[BatchResult, list[UsageRow], dict[str, int], list[StoredOffset]]:
        conn = self._conn
        async with conn.transaction():
            # Staged first, before any lock is taken: a worker frozen while it sends the
            # COPY (its backend "active", reading from the client, which the idle-in-
            # transaction timeout never ends) then holds nothing the worker that takes its
            # partitions over waits for. Held at the COPY, the offset rows stalled that
            # worker for as long as this one stayed frozen (the fault suite's SIGSTOP test,
            # 1 run in 4). What the offsets then show was applied before is unstaged.
            held_before = self.guard.held_partitions
            staged = [
                i
                for i in batch
                if i.item is not None
                and i.partition not in held_before
                and (scope is None or scope.takes(i.project))
            ]
            await projections.stage(conn, [i.staged for i in staged])
            partitions = sorted({i.partition for i in batch})
            rows = await store.lock_offsets(
                conn, self._consumer, self._topic, partitions, self.guard.topic_id
            )
            gaps = self.guard.gaps(offsets_by_partition(batch), rows, arrived)
            await store.save_verdicts(conn, self._consumer, self._topic, gaps)
            for gap in gaps:
                row = rows[gap.partition]
                rows[gap.partition] = replace(
                    row, inconsistent=gap.problem, kafka_offset=gap.kafka_offset
                )
            holds = [row for row in rows.values() if row.inconsistent is not None]
            held = {row.partition for row in holds}
            live = [i for i in batch if i.partition not in held]
            stored = {p: row.next_offset for p, row in rows.items()}
            unapplied = [i for i in live if i.offset >= stored[i.partition]]
            fresh = unapplied if scope is None else [i for i in unapplied if scope.takes(i.project)]
            bad = [i for i in fresh if i.item is None]
            good = [i for i in fresh if i.item is not None]
            items = [i.item for i in good if i.item is not None]
            taken = {position(i) for i in good}
            done = {position(i) for i in staged}
            if taken != done:
                await projections.unstage(conn, sorted(done - taken))
                # A partition held before and not any more (an operator's recovery): rare.
                await projections.stage(conn, [i.staged for i in good if position(i) not in done])
            projects = {i.project_id for i in items}
            await store.share_projects(conn, projects)
            gone = await store.buried(conn, projects)
            await projections.unstage(conn, sorted(gone))
            await store.lock_usage(conn, {(i.project_id, i.month) for i in items})
            if scope is None:
                limits = await store.plan_limits(conn, {i.project_id for i in items})
            else:
                limits = dict(scope.limits)
            seen = await store.claim_dedup(conn)
            kept, outcome, rewrites = self._decide(items, seen, limits, gone)
            await projections.unstage(conn, refused(items, outcome.accepted))
            await store.save_dedup(conn, rewrites)
            if outcome.accepted:
                if any(i.derive_session for i in outcome.accepted):
                    await sessions.derive_staged(conn)
                keys = {p: self._keys_for(p) for p in {i.project_id for i in kept}}
                await projections.write_events(conn, keys)
                await identity.merge_staged(conn)
            usage_rows = await store.save_usage(conn, outcome, self._lane) if outcome.parts else []
            await store.save_bot_events(conn, bot_counts(outcome.accepted))
            await store.save_offsets(
                conn, self._consumer, self._topic, self._positions(live, items, stored)
            )
            if bad:
                # Sent last before commit: a crash here re-sends them (at least once), never
                # loses; a batch that fails on (and is then split) sends none.
                await self._dead_letter([(i.raw, i.reason or i.code) for i in bad])
        result = BatchResult(
            applied=len(outcome.accepted),
            duplicates=len(items) - len(kept) - len(gone),
            erased=len(gone),
            dropped=len(kept) - len(outcome.accepted),
            dead_lettered=len(bad),
            redelivered=len(live) - len(unapplied),
            reasons=Counter(i.code for i in bad),
            held=len(batch) - len(live),
            elsewhere=len(unapplied) - len(fresh),
        )
        return result, usage_rows, limits, holds

    async def check_topic(self) -> list[Verdict]:
        """Check every stored offset of the topic against Kafka (at start, periodically)."""
        async with self._lock:
            await self._connected()
            return await self.guard.check(self._conn)

    @staticmethod
    def _decide(
        items: list[Positioned],
        seen: dict[DedupKey, datetime],
        live: dict[str, int],
        gone: set[tuple[int, int]],
    ) -> tuple[list[Positioned], UsageOutcome, dict[DedupKey, datetime]]:
        """Dedup, then usage. Arrival order decides only when a key repeats or was counted
        before; otherwise the batch is not sorted. No limit: every new event of a live
        project is counted (the gateway reserved its quota before answering 200). Records
        of deleted persons (``gone``) are neither kept nor counted, but their reservations
        are seen, as a duplicate's are."""
        candidates = [i for i in items if (i.partition, i.offset) not in gone] if gone else items
        if order_matters(dedup_keys(candidates), seen):
            candidates = arrival_order(candidates)
            kept, changed = select_new(candidates, seen)
            rewrites = dedup_rewrites(candidates, seen, changed)
        else:
            kept, rewrites = candidates, {}
        return kept, count_usage(items, kept, live), rewrites

    @staticmethod
    def _positions(
        batch: Sequence[Received], fresh: list[Positioned], stored: dict[int, int]
    ) -> dict[int, tuple[int, datetime | None]]:
        """Per partition of the batch: the next offset to store, and the receivedAt of the
        last record applied (None: keep the stored one)."""
        top: dict[int, int] = {}
        for i in batch:
            if i.offset > top.get(i.partition, -1):
                top[i.partition] = i.offset
        last: dict[int, Positioned] = {}
        for item in fresh:
            seen = last.get(item.partition)
            if seen is None or item.offset >= seen.offset:
                last[item.partition] = item
        return {
            p: (
                max(stored.get(p, 0), offset + 1),
                last[p].received_at if p in last else None,
            )
            for p, offset in top.items()
        }

    async def _publish_usage(self, rows: list[UsageRow], limits: dict[str, int]) -> None:
        try:
            for row in rows:
                await self._set_if_newer(
                    keys=[usage_key(self._prefix, row.project_id, month_label(row.month))],
                    args=[*row.fields(), limits.get(row.project_id, 0), USAGE_TTL_SECONDS],
                )
        except RedisError as exc:
            # PostgreSQL holds the truth; the periodic resync rewrites Redis from it.
            self.metrics.redis_failures.inc()
            logger.warning("usage state not written to redis: %s", type(exc).__name__)

    async def resync_usage(self, month: date) -> int:
        """Rewrite the Redis usage state of ``month`` from PostgreSQL (after a Redis restart
        or a failed write); set-if-newer keeps it from undoing fresher writes."""
        async with self._lock:
            await self._connected()
            return await self._resync_usage(month)

    async def _resync_usage(self, month: date) -> int:
        cursor = await self._conn.execute(
            "SELECT project_id::text, month, partition, used, reserved_seen, last_offset"
            " FROM usage_partitions WHERE month = %s",
            (month,),
        )
        rows = [UsageRow(str(r[0]), *r[1:6]) for r in await cursor.fetchall()]
        projects = {r.project_id for r in rows}
        if self._directory is None:
            limits = await store.plan_limits(self._conn, projects)
        else:
            limits = await self._directory.limits(projects)
        live = [r for r in rows if r.project_id in limits]  # a deleted project's: not written
        await self._publish_usage(live, limits)
        return len(live)

    def _observe(self, result: BatchResult, size: int, seconds: float) -> None:
        m = self.metrics
        m.flush_seconds.observe(seconds)
        m.batch_size.observe(size)
        m.events_applied.inc(result.applied)
        m.duplicates.inc(result.duplicates)
        m.dropped_deleted_project.inc(result.dropped)
        for reason, count in result.reasons.items():
            m.dead_lettered.labels(reason).inc(count)
        m.redelivered.inc(result.redelivered)
        m.held.inc(result.held)
        m.elsewhere.inc(result.elsewhere)
        m.erased.inc(result.erased)
