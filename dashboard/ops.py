"""The ops view's pipeline figures (operators only): lag per partition of each lane, rates,
dead letters, this month's overage and the state of Kafka, PostgreSQL and Redis.

Both lanes are shown (contracts/lanes.py): the main one and the overflow one (a hot
project's events), each its consumer group and topic; totals, rates and the banner are
over both, and each lane has its own lag and freshness. Sharded (contracts/shards.py),
every shard's workers are shown too, each lane of each shard read from its own consumer
group and its shard's database.

Offsets are sampled lazily (when someone asks, at most every ``sample_min_seconds``) and
kept in a short in-process history, from which the rates and the banner are computed
(``dashboard.trend``). Counts come from durable places, not from one worker's counters:
dead-lettered = the dead-letter topic's log-end offsets summed; overage = this month's
events counted past each project's limit, summed over projects (``dashboard.usage``, from
the workers' ``usage_months``). The per-project figures are ``dashboard.usage``'s answer.
A partition the workers hold because its stored offsets contradict Kafka (the topic was
recreated, Kafka's data wiped: ``common.lag``) carries why, and ``held`` lists them all
for the page's banner: nothing is applied there until an operator recovers it.
``retention`` is each shard's last raw-retention run (``dashboard.retention``: a shard that
has not run yet is absent), read with the rest from the control database; ``null`` when
that read failed, as the overage is.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from common.lag import (
    PartitionLag,
    StoredPartition,
    committed_offsets,
    compute_lag,
    log_ends,
    read_stored,
)
from contracts.lanes import Lane
from contracts.shards import DEFAULT_SHARD
from dashboard.bots import bot_events_this_month, bots_body
from dashboard.retention import RetentionRun, last_runs, retention_body
from dashboard.settings import Settings
from dashboard.trend import Sample, lag_alert, lag_growth_seconds, rates
from dashboard.usage import overage_this_month

logger = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class LanePositions:
    ends: dict[int, int]
    committed: dict[int, int]


Workers = tuple[str, Lane]  # (shard, lane): one consumer group


@dataclass(frozen=True, slots=True)
class KafkaReading:
    lanes: dict[Workers, LanePositions]
    dead_lettered: int


@dataclass(frozen=True, slots=True)
class PostgresReading:
    stored: dict[Workers, dict[int, StoredPartition]]
    overage: int | None
    shards_up: dict[str, bool]
    retention: list[RetentionRun]
    bots: list[dict[str, Any]]  # crawler events this month per project (dashboard.bots)


def every_group(settings: Settings) -> list[tuple[str, Lane, str, str]]:
    """(shard, lane, consumer group, topic) of every shard's lanes, the default shard's first."""
    return [
        (shard, lane, group, topic)
        for shard in settings.shards
        for lane, group, topic in settings.lanes(shard)
    ]


async def read_kafka(settings: Settings) -> KafkaReading:
    bootstrap = settings.kafka_bootstrap
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    lanes: dict[Workers, LanePositions] = {}
    try:
        await consumer.start()
        await admin.start()
        ends_of: dict[str, dict[int, int]] = {}
        for shard, lane, group, topic in every_group(settings):
            if topic not in ends_of:
                ends_of[topic] = await log_ends(consumer, topic)  # {}: no such topic (yet)
            ends = ends_of[topic]
            committed = await committed_offsets(admin, group, topic, sorted(ends))
            lanes[(shard, lane)] = LanePositions(ends, committed)
        dead = await log_ends(consumer, settings.dead_letter_topic)
    finally:
        # Closing a client that never started may fail too; the first error is the story.
        with contextlib.suppress(Exception):
            await admin.close()
        with contextlib.suppress(Exception):
            await consumer.stop()
    return KafkaReading(lanes, sum(dead.values()))


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def partition_body(lane: Lane, row: PartitionLag, shard: str = DEFAULT_SHARD) -> dict[str, Any]:
    fresh = row.freshness_seconds
    return {
        "shard": shard,
        "lane": lane.value,
        "topic": row.topic,
        "partition": row.partition,
        "logEnd": row.log_end,
        "committed": row.committed,
        "lag": row.lag,
        "freshnessSeconds": None if fresh is None else round(fresh, 1),
        "stored": row.stored,
        "inconsistency": row.inconsistency,
    }


class OpsView:
    """One per app: the sample history and the last answer, shared by every viewer."""

    def __init__(
        self, settings: Settings, pools: Mapping[str, AsyncConnectionPool], redis: Redis
    ) -> None:
        self._settings = settings
        self._pools = pools  # each shard's by name; the default one's is the control database
        self._redis = redis
        self._history: deque[Sample] = deque()
        self._lock = asyncio.Lock()
        self._last: dict[str, Any] | None = None
        self._last_at = 0.0

    async def snapshot(self) -> dict[str, Any]:
        async with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last_at >= self._settings.sample_min_seconds:
                self._last = await self._sample(now)
                self._last_at = now
            return self._last

    async def _sample(self, at: float) -> dict[str, Any]:
        s = self._settings
        timeout = s.probe_timeout_seconds
        kafka_task = asyncio.wait_for(read_kafka(s), timeout)
        pg_task = asyncio.wait_for(self._read_postgres(), timeout)
        redis_task = asyncio.wait_for(self._redis.ping(), timeout)
        kafka, pg, redis = await asyncio.gather(
            kafka_task, pg_task, redis_task, return_exceptions=True
        )
        now = datetime.now(UTC)
        stored: dict[Workers, dict[int, StoredPartition]] = {}
        overage: int | None = None
        shards_up: dict[str, bool] = {}
        retention: list[dict[str, Any]] | None = None
        bots: list[dict[str, Any]] | None = None
        if not isinstance(pg, BaseException):
            stored, overage, shards_up = pg.stored, pg.overage, pg.shards_up
            retention = retention_body(pg.retention)
            bots = pg.bots
        rows: list[tuple[Workers, PartitionLag]] = []
        dead_lettered: int | None = None
        if not isinstance(kafka, BaseException):
            for shard, lane, _, topic in every_group(s):
                at_kafka = kafka.lanes[(shard, lane)]
                kept = stored.get((shard, lane), {})
                received = {p: s.last_received_at for p, s in kept.items()}
                lane_rows = compute_lag(
                    topic, at_kafka.ends, at_kafka.committed, received, now, kept
                )
                rows += [((shard, lane), row) for row in lane_rows]
            dead_lettered = kafka.dead_lettered
            self._remember(at, [row for _, row in rows])
        history = list(self._history)
        rate = rates(history, RATE_WINDOW_SECONDS)
        max_gap = max(5.0, 3 * s.sample_min_seconds)
        _, main_group, main_topic = s.lanes()[0]
        return {
            "sampledAt": now.isoformat(),
            "group": main_group,
            "topic": main_topic,
            "lanes": [
                {
                    "shard": shard,
                    "lane": lane.value,
                    "group": group,
                    "topic": topic,
                    **_figures([row for of, row in rows if of == (shard, lane)]),
                }
                for shard, lane, group, topic in every_group(s)
            ],
            "partitions": [partition_body(lane, row, shard) for (shard, lane), row in rows],
            "held": [
                partition_body(lane, row, shard) for (shard, lane), row in rows if row.inconsistency
            ],
            **_figures([row for _, row in rows]),
            "rates": {"inPerSecond": rate.in_per_second, "outPerSecond": rate.out_per_second},
            "deadLettered": dead_lettered,
            "overageThisMonth": overage,
            "retention": retention,
            "botEventsThisMonth": bots,
            "lagGrowth": {
                "seconds": round(lag_growth_seconds(history, max_gap), 1),
                "alert": lag_alert(history, s.lag_growth_alert_seconds, max_gap),
                "thresholdSeconds": s.lag_growth_alert_seconds,
            },
            "services": {
                "kafka": _state(kafka),
                "postgres": _state(pg),
                # Each further shard's database: one down leaves its lanes without stored
                # offsets (their lag still comes from Kafka), not the whole view.
                **({"shards": shards_up} if shards_up else {}),
                "redis": _state(redis),
            },
        }

    def _remember(self, at: float, rows: list[PartitionLag]) -> None:
        sample = Sample(
            at=at,
            log_end=sum(r.log_end for r in rows),
            committed=sum(r.committed or 0 for r in rows),
            lag=sum(r.lag or 0 for r in rows),
        )
        self._history.append(sample)
        while self._history and at - self._history[0].at > self._settings.history_seconds:
            self._history.popleft()

    async def _read_postgres(self) -> PostgresReading:
        """Stored offsets of every shard's lanes, this month's overage and crawler events,
        which further shards answered and each shard's last retention run; the control
        database's failure is the whole read's."""
        stored: dict[Workers, dict[int, StoredPartition]] = {}
        shards_up: dict[str, bool] = {}
        bots: dict[str, int] = {}
        for shard in self._settings.shards:
            try:
                async with self._pools[shard].connection() as conn:
                    for lane, group, topic in self._settings.lanes(shard):
                        stored[(shard, lane)] = await read_stored(conn, group, topic)
                    bots.update(await bot_events_this_month(conn))
            except Exception as exc:
                if shard == DEFAULT_SHARD:
                    raise
                logger.warning("ops probe of shard %s failed: %s", shard, _failure(exc))
                shards_up[shard] = False
                continue
            if shard != DEFAULT_SHARD:
                shards_up[shard] = True
        overage: int | None = None
        async with self._pools[DEFAULT_SHARD].connection() as conn:
            if all(shards_up.values()):  # a shard down: its projects' overage is not known
                overage = await overage_this_month(conn, self._pools)
            retention = await last_runs(conn)
            bot_rows = await bots_body(conn, bots)
        return PostgresReading(stored, overage, shards_up, retention, bot_rows)


def _figures(rows: list[PartitionLag]) -> dict[str, Any]:
    """Totals and the oldest freshness of some partitions."""
    known = [r for r in rows if r.lag is not None]
    fresh = [r.freshness_seconds for r in rows if r.freshness_seconds is not None]
    return {
        "totals": {
            "logEnd": sum(r.log_end for r in rows),
            "committed": sum(r.committed or 0 for r in rows),
            "lag": sum(r.lag or 0 for r in known) if known else None,
        },
        "freshnessSeconds": round(max(fresh), 1) if fresh else None,
    }


def _state(result: object) -> dict[str, Any]:
    if isinstance(result, BaseException):
        if not isinstance(result, Exception):
            raise result
        logger.warning("ops probe failed: %s", _failure(result))
        return {"up": False, "error": _failure(result)}
    return {"up": True, "error": None}
