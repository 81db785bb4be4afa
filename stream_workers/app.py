"""The Faust app: the events agent, the control follower, timers and ``/metrics``."""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
import psycopg
from prometheus_client import generate_latest
from redis.asyncio import Redis

from common.control_follower import ControlFollower
from contracts.lanes import Lane
from stream_workers import memory
from stream_workers.batcher import Batcher
from stream_workers.configs import BreakdownKeys
from stream_workers.deadletter import DeadLetterProducer
from stream_workers.decisions import month_start
from stream_workers.dedup_pruning import lane_partitions
from stream_workers.enrichment import load_enricher
from stream_workers.erasure import Eraser
from stream_workers.fastdrain import Pending, RawBytes, WorkerApp
from stream_workers.lag import group_lag
from stream_workers.metrics import Metrics
from stream_workers.received import Received, raw_record, receive
from stream_workers.retention import Retainer
from stream_workers.retry import apply_until_done
from stream_workers.settings import Settings
from stream_workers.shards import directory_for
from stream_workers.sink import Sink
from stream_workers.topic_identity import TopicReader

logger = logging.getLogger(__name__)

# Acks of a batch run beside the next batch's transaction, this many between yields.
ACK_CHUNK = 5000

# Prometheus' text format; aiohttp refuses a charset inside content_type (utf-8 is implied).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"


class Runtime:
    """The worker's connections, opened once when the agent starts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.keys = BreakdownKeys()
        self._started = asyncio.Event()
        self._starting = asyncio.Lock()
        self._sink: Sink | None = None
        self.control: ControlFollower | None = None
        self.eraser = Eraser(
            settings.shard,
            functools.partial(autocommit, settings.database_url),
            functools.partial(autocommit, settings.control_database_url),
            settings.erasure_lease_seconds,
        )
        self.retainer = Retainer(
            settings.shard,
            functools.partial(autocommit, settings.database_url),
            functools.partial(autocommit, settings.control_database_url),
            functools.partial(lane_partitions, settings.kafka_bootstrap, lanes=settings.lanes()),
        )

    @property
    def sink(self) -> Sink:
        assert self._sink is not None, "runtime not started"
        return self._sink

    async def start(self) -> None:
        async with self._starting:
            if self._started.is_set():
                return
            s = self.settings
            connect = functools.partial(connect_database, s.database_url, s.session_timeout_seconds)
            conn = await first_connection(connect)
            redis = Redis.from_url(s.redis_url, socket_timeout=5)
            dead_letter = DeadLetterProducer(s.kafka_bootstrap, s.topic, s.dead_letter_topic)
            await dead_letter.start()
            self.control = ControlFollower(s.kafka_bootstrap, s.control_topic, self.keys.apply)
            await self.control.start()
            topics = TopicReader(s.kafka_bootstrap)
            await topics.start()
            self._sink = Sink(
                conn,
                redis,
                consumer=s.consumer_group,
                topic=s.topic,
                redis_prefix=s.redis_prefix,
                dead_letter=dead_letter,
                keys_for=self.keys,
                metrics=self.metrics,
                reopen=connect,
                lane=s.lane,
                topics=topics,
                directory=directory_for(s),
                enricher=load_enricher(s.geoip_database),
            )
            await self._sink.start()
            # Held partitions are reported from the start; a failed check is not fatal:
            # no batch that re-delivers or skips offsets is applied unchecked anyway.
            await survive("topic check", self._sink.check_topic())
            self._started.set()
            logger.info(
                "worker started: shard %s lane %s group %s topic %s",
                s.shard,
                s.lane,
                s.consumer_group,
                s.topic,
            )

    async def refresh_lag(self) -> None:
        """Lag and freshness gauges, from the same numbers as ``python -m stream_workers lag``."""
        s = self.settings
        try:
            rows = await group_lag(
                s.kafka_bootstrap, s.database_url, s.consumer_group, s.topic, datetime.now(UTC)
            )
        except Exception as exc:  # a metrics refresh must never stop the worker
            logger.warning("lag refresh failed: %s", type(exc).__name__)
            return
        for row in rows:
            labels = (row.topic, str(row.partition))
            if row.lag is not None:
                self.metrics.lag.labels(*labels).set(row.lag)
            if row.freshness_seconds is not None:
                self.metrics.freshness.labels(*labels).set(row.freshness_seconds)

    @property
    def started(self) -> bool:
        return self._started.is_set()


async def autocommit(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)


async def connect_database(url: str, idle_seconds: float) -> psycopg.AsyncConnection[Any]:
    """The sink's connection, whose transaction PostgreSQL ends once it has been left idle
    for ``idle_seconds`` (the Kafka session timeout). A worker frozen mid-transaction (a
    stop-the-world pause, a suspended VM, SIGSTOP) held the row locks every other worker's
    batch needs (the project-month's usage row) for as long as it was frozen: the whole
    group stopped applying, and its rebalance waited on the stuck batch (tests/faults).
    Past its session its partitions are another worker's anyway; woken, it reconnects and
    retries the batch, whose records the stored offsets then show as already applied."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await conn.execute(
        "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
        (str(max(1, round(idle_seconds * 1000))),),
    )
    return conn


async def first_connection(
    connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]], max_delay: float = 5.0
) -> psycopg.AsyncConnection[Any]:
    """The sink's connection at start, waited for while the database cannot be reached (a
    shard's cluster down as its worker starts): raised, it crashed the agent, which Faust's
    supervisor restarted every 5 s with a traceback each time."""
    delay = 0.5
    while True:
        try:
            return await connect()
        except psycopg.OperationalError as exc:
            logger.warning(
                "database unreachable at start (%s); retrying in %.1f s", type(exc).__name__, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


def create_app(settings: Settings) -> tuple[faust.App, Runtime]:
    app = WorkerApp(
        settings.consumer_group,  # the app id: each lane's workers are a group of their own
        fast_drain=settings.fast_drain,
        fetch_max_bytes=settings.fetch_max_bytes,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",  # a new group starts at the log's beginning
        consumer_max_fetch_size=settings.fetch_bytes,
        broker_session_timeout=settings.session_timeout_seconds,
        consumer_group_instance_id=settings.instance_id,
        web_enabled=True,
        web_bind=settings.host,
        web_port=settings.port,
        web_tables_enabled=False,
        stream_buffer_maxsize=settings.stream_buffer_maxsize,
        web_in_thread=False,
        datadir=settings.data_dir,
    )
    runtime = Runtime(settings)
    runtime.metrics.lane.labels(settings.lane, settings.consumer_group, settings.topic).set(1)
    events = app.topic(settings.topic, schema=RawBytes())
    enricher = load_enricher(settings.geoip_database)  # loaded before the first record

    # The running agent's batcher, which directly delivered records go to (see below).
    batchers: list[Batcher[Received, Any]] = []
    batcher_ready = asyncio.Event()

    async def take(pending: Pending, message: Any) -> None:
        if not batcher_ready.is_set():
            await batcher_ready.wait()
        # Only the record's position is held for the ack, and its bytes only if unreadable
        # (stream_workers/received.py): a batch holds its staged rows, not the messages.
        await batchers[0].add(receive(raw_record(message), enricher, keep=False), pending)

    # The fetch loop hands the topic's records straight to the agent's batcher (faust's
    # per-record stream machinery bypassed: stream_workers/fastdrain.py); with faust's own
    # fetch loop they come through the agent's stream instead.
    direct = app.deliver_directly(settings.topic, take)

    # concurrency=1: Faust can commit past an in-flight event with more (bug #606).
    # Acks are manual: a record is acknowledged only after its batch's transaction
    # committed, so Kafka's committed offset never passes PostgreSQL's; the next batch
    # gathers while one is written (stream_workers/batcher.py).
    @app.agent(events, concurrency=1, name="apply-events")
    async def apply_events(stream: Any) -> None:  # faust's StreamT lacks noack/events
        await runtime.start()
        manual = stream.noack()

        async def apply(batch: Sequence[Received]) -> None:
            await apply_until_done(functools.partial(runtime.sink.apply_received, batch))

        async def ack(applied: Sequence[Any]) -> None:
            # A held partition's records were neither applied nor skipped: acknowledged,
            # Kafka's committed offset would pass them (stream_workers/consistency.py).
            # Partitions only join the set while the worker runs (an operator's reset wants
            # the workers stopped), so reading it now never acknowledges a record its
            # batch did not apply; at worst an applied one waits for a re-delivery.
            held = runtime.sink.held_partitions
            if direct:  # faust messages: faust's own commit bookkeeping
                consumer_ack = app.consumer.ack
                for n, message in enumerate(applied, 1):
                    if held and message.partition in held:
                        continue
                    consumer_ack(message)
                    if n % ACK_CHUNK == 0:
                        await asyncio.sleep(0)  # the next batch's statements go out meanwhile
            else:  # stream events
                for event in applied:
                    if not (held and event.message.partition in held):
                        await manual.ack(event)

        batcher: Batcher[Received, Any] = Batcher(
            apply, ack, settings.batch_max, settings.batch_seconds
        )
        batcher.start()
        try:
            if direct:
                batchers[:] = [batcher]
                batcher_ready.set()
                await batcher.wait()
            else:
                async for event in manual.events():
                    await batcher.add(receive(raw_record(event.message), enricher), event)
        finally:
            batcher_ready.clear()
            await batcher.stop()

    @app.timer(interval=settings.usage_resync_seconds)  # type: ignore[untyped-decorator]
    async def resync_usage() -> None:
        if runtime.started:
            await survive("usage resync", runtime.sink.resync_usage(month_start(datetime.now(UTC))))

    @app.timer(interval=settings.lag_refresh_seconds)  # type: ignore[untyped-decorator]
    async def refresh_lag() -> None:
        if runtime.started:
            await survive("lag refresh", runtime.refresh_lag())

    @app.timer(interval=settings.topic_check_seconds)  # type: ignore[untyped-decorator]
    async def check_topic() -> None:
        if runtime.started:
            await survive("topic check", runtime.sink.check_topic())

    if settings.lane is Lane.MAIN:  # one lane's workers are enough to carry deletions out

        @app.timer(interval=settings.erasure_seconds)  # type: ignore[untyped-decorator]
        async def erase_persons() -> None:
            if runtime.started:
                await survive("person deletions", runtime.eraser.run_pending())

        @app.timer(interval=settings.retention_seconds)  # type: ignore[untyped-decorator]
        async def retain_raw_events() -> None:
            if runtime.started:
                await survive("raw retention", runtime.retainer.run())

    if settings.trim_seconds > 0:

        @app.timer(interval=settings.trim_seconds)  # type: ignore[untyped-decorator]
        async def trim_memory() -> None:
            memory.trim()

    @app.page("/metrics")
    async def metrics(view: Any, request: Any) -> Any:
        return view.bytes(
            generate_latest(runtime.metrics.registry), content_type=METRICS_CONTENT_TYPE
        )

    @app.page("/health")
    async def health(view: Any, request: Any) -> Any:
        return view.json({"status": "ok"})

    return app, runtime


async def survive(task: str, run: Awaitable[object]) -> None:
    """One run of a periodic task, whatever it meets: an exception escaping a Faust timer
    crashes the whole worker (a PostgreSQL restart did, through the usage resync), while
    the next run, a timer interval later, simply tries again (the sink reconnects)."""
    try:
        await run
    except Exception as exc:
        logger.warning("%s failed (%s); next try in one interval", task, type(exc).__name__)
