"""Replay: rebuild every projection from the events log into a schema of its own.

The log is the source of truth, so a replay reads both lanes' topics (``events``, then
``events-overflow``; no consumer group: the live workers' offsets are untouched) from the
start, or from the first record each partition received at or after ``--from``, up to each
partition's end at start-up, and feeds them through the same ``Sink`` as the live workers
(each lane's with its own offsets and usage slots), in large batches. The target schema
is migrated and given a copy of the source schema's ``projects`` (plan limits) and person
tombstones (a deleted person's events in the log are passed over); breakdown
keys are those of the latest deploy on the control topic. Its Redis usage state goes under
a prefix of its own (``replay:<schema>:``), so the gateway's live quota state is not
touched. Offsets are stored under the live groups' names, with the topic's id: a worker
pointed at the rebuilt schema carries on from where the replay stopped. A replay into a
fresh schema is also the recovery from a Kafka reset (docs/operations.md): it starts from
the log alone, so no stored offset can contradict it.
"""

import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql
from psycopg.conninfo import make_conninfo
from redis.asyncio import Redis

from common.control_follower import ControlFollower
from common.kafka import topic_partitions
from contracts.lanes import Lane
from migrations.runner import apply_migrations
from stream_workers.configs import BreakdownKeys
from stream_workers.enrichment import load_enricher
from stream_workers.metrics import Metrics
from stream_workers.received import RawRecord
from stream_workers.settings import Settings
from stream_workers.shards import directory_for
from stream_workers.sink import Sink
from stream_workers.topic_identity import TopicReader

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    schema: str
    records: int
    applied: int
    seconds: float
    held: int = 0  # records of partitions whose stored offsets contradict Kafka


def schema_url(database_url: str, schema: str) -> str:
    """The same database with ``schema`` first on the search path (replacing any options)."""
    return make_conninfo(database_url, options=f"-csearch_path={schema}")


def prepare_schema(database_url: str, schema: str) -> str:
    """Migrate ``schema`` and copy the source schema's projects and person tombstones
    (issue 17: a replay never brings a deleted person back) into it; its conninfo."""
    apply_migrations(database_url, schema=schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        source = str(row[0]) if row else "public"
        if source == schema:
            raise ValueError("replay needs a target schema other than the live one")
        for table in ("projects", "person_tombstones"):  # deleted persons stay deleted
            conn.execute(
                sql.SQL("INSERT INTO {}.{} SELECT * FROM {}.{} ON CONFLICT DO NOTHING").format(
                    sql.Identifier(schema),
                    sql.Identifier(table),
                    sql.Identifier(source),
                    sql.Identifier(table),
                )
            )
    return schema_url(database_url, schema)


async def _positions(
    consumer: AIOKafkaConsumer, topic: str, since: datetime | None
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Where each partition starts and ends (its log-end offset now)."""
    tps = await topic_partitions(consumer, topic)
    if not tps:
        return {}, {}
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    if since is not None:
        found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
        # No record at or after ``since``: nothing to replay in that partition.
        starts = {tp: found[tp].offset if found[tp] else ends[tp] for tp in tps}
    return starts, ends


async def replay(
    settings: Settings,
    schema: str,
    since: datetime | None = None,
    batch_max: int = 20000,
    progress: Progress | None = None,
) -> ReplayResult:
    started = time.perf_counter()
    target = prepare_schema(settings.database_url, schema)
    keys = BreakdownKeys()
    control = ControlFollower(settings.kafka_bootstrap, settings.control_topic, keys.apply)
    await control.start()  # catches up to the control topic's end before returning
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    topics = TopicReader(settings.kafka_bootstrap)
    await topics.start()
    conn = await psycopg.AsyncConnection.connect(target, autocommit=True)
    redis = Redis.from_url(settings.redis_url, socket_timeout=5)
    directory = directory_for(settings)  # sharded: this shard's projects only
    dead = 0

    async def skip_dead_letters(items: object) -> None:
        nonlocal dead  # the live worker dead-lettered these already
        dead += len(items)  # type: ignore[arg-type]

    def sink_of(lane: Settings) -> Sink:
        # Each lane's records under its own group's offsets and its own usage slots, as
        # its live workers write them.
        return Sink(
            conn,
            redis,
            consumer=lane.consumer_group,
            topic=lane.topic,
            redis_prefix=f"replay:{schema}:",
            dead_letter=skip_dead_letters,
            keys_for=keys,
            metrics=Metrics(),
            lane=lane.lane,
            topics=topics,
            directory=directory,
            enricher=load_enricher(settings.geoip_database),
        )

    try:
        # Both lanes' topics are the log: the main lane's first, then the overflow's.
        lanes = [replace(settings, lane=lane) for lane in Lane]
        positions = [await _positions(consumer, lane.topic, since) for lane in lanes]
        total = sum(end - starts[tp] for starts, ends in positions for tp, end in ends.items())
        done, applied, held = 0, 0, 0
        for lane, (starts, ends) in zip(lanes, positions, strict=True):
            sink = sink_of(lane)
            await sink.start()
            async for batch in _batches(consumer, starts, ends, batch_max):
                result = await sink.apply(batch)
                applied, held = applied + result.applied, held + result.held
                done += len(batch)
                if progress:
                    progress(done, total)
    finally:
        await consumer.stop()
        await topics.stop()
        await control.stop()
        await conn.close()
        await redis.aclose()
        if directory is not None:
            await directory.close()
    return ReplayResult(schema, done, applied, time.perf_counter() - started, held)


async def _batches(
    consumer: AIOKafkaConsumer,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    batch_max: int,
) -> AsyncIterator[list[RawRecord]]:
    """The records from ``starts`` up to ``ends``, in batches of at most ``batch_max``."""
    todo = {tp: end for tp, end in ends.items() if starts[tp] < end}
    consumer.assign(list(todo))
    for tp in todo:
        consumer.seek(tp, starts[tp])
    batch: list[RawRecord] = []
    while todo:
        fetched = await consumer.getmany(timeout_ms=1000, max_records=batch_max)
        for tp, messages in fetched.items():
            end = todo.get(tp)
            for m in messages:
                if end is not None and m.offset < end and m.value is not None:
                    batch.append(RawRecord(m.partition, m.offset, m.value))
            if end is not None and messages and messages[-1].offset + 1 >= end:
                del todo[tp]
                consumer.pause(tp)
        if len(batch) >= batch_max or (batch and not todo):
            yield batch
            batch = []


class ProgressBar:
    """``replay [#####-----] 61% 122,000/200,000 15,234 ev/s`` on stderr."""

    def __init__(self, width: int = 30) -> None:
        self._width = width
        self._started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * self._width)
        rate = done / max(time.perf_counter() - self._started, 1e-9)
        bar = "#" * filled + "-" * (self._width - filled)
        sys.stderr.write(f"\rreplay [{bar}] {share:4.0%} {done:,}/{total:,} {rate:,.0f} ev/s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
