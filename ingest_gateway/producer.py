"""Appends records to the events topic (or the overflow one): acks=all, idempotent, batched.

``append`` returns only once Kafka has acknowledged every record of the request, or raises
``AppendFailed`` when that cannot happen within the bound — the handler answers 503 then.
If the broker is unreachable at start-up, the gateway still starts (after a bounded wait) and
keeps connecting in the background; every append meanwhile fails fast. So does every append
while no broker is connected (librdkafka's ``_ALL_BROKERS_DOWN``), until a metadata probe
sees the events topic led again.

The producer is librdkafka's (``ingest_gateway.kafka_client``, decision 0019). A record it
cannot deliver within the append timeout fails with ``_MSG_TIMED_OUT`` and librdkafka bumps
the producer's epoch past it, so, unlike aiokafka's (aio-libs/aiokafka#1017), a timeout
leaves the producer sound. What it cannot recover from it reports as a fatal error (an
idempotence guarantee it can no longer keep, e.g. ``OUT_OF_ORDER_SEQUENCE_NUMBER``): that
retires the producer, once however many requests saw it, and a fresh one connects in the
background; appends answer 503 meanwhile.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException

from contracts.events import REQUEST_ID_HEADER
from ingest_gateway.kafka_client import (
    ErrorHandler,
    PolledProducer,
    RequestDelivery,
    error_is_fatal,
    error_means_unreachable,
    producer_config,
)

logger = logging.getLogger(__name__)

RECONNECT_MAX_DELAY_SECONDS = 2.0  # how late, at most, ingest notices the broker is back
PROBE_SECONDS = 1.0  # a reconnect probe's metadata wait
READY_SECONDS = 2.0  # /ready's


# librdkafka's header type, whose list is invariant: a value may be str, bytes or None.
Headers = list[tuple[str, str | bytes | None]]


class AppendFailed(Exception):
    pass


class KafkaProducer(Protocol):
    """What the appender needs of a producer (``kafka_client.PolledProducer``; a stand-in in
    the unit tests)."""

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        *,
        on_delivery: RequestDelivery,
        headers: Headers | None,
    ) -> None: ...

    def topic_ready(self, topic: str, timeout: float) -> bool: ...

    def close(self, timeout: float) -> int: ...


class EventAppender:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        timeout_seconds: float,
        linger_ms: int,
        on_replace: Callable[[str], None] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._on_replace = on_replace  # told the reason of each replacement (a metric)
        self._topic = topic
        self._timeout = timeout_seconds
        self._linger_ms = linger_ms
        self._producer: KafkaProducer | None = None
        self._generation = 0  # which producer an error callback speaks of
        self._connected = False  # a probe saw the topic led since the last "all down"
        self._stopping = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()  # retirements and probes

    def _new_producer(self, on_error: ErrorHandler) -> KafkaProducer:
        config = producer_config(self._bootstrap, self._timeout, self._linger_ms)
        return PolledProducer(config, on_error)

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Connect, waiting up to ``wait_seconds``; past that keep trying in the background."""
        self._open()
        assert self._connector is not None
        await asyncio.wait([self._connector], timeout=wait_seconds)

    def _open(self) -> None:
        """A new producer (not connected until a probe says so), and its connector."""
        loop = asyncio.get_running_loop()
        self._generation += 1
        on_error = partial(self._error_from_thread, loop, self._generation)
        self._producer = self._new_producer(on_error)
        self._connected = False
        self._connect_in_background()

    def _error_from_thread(
        self, loop: asyncio.AbstractEventLoop, generation: int, error: KafkaError
    ) -> None:
        # librdkafka's error callback, on the poll thread: handled on the loop.
        with contextlib.suppress(RuntimeError):  # the loop closed: shut-down
            loop.call_soon_threadsafe(self._kafka_error, generation, error)

    def _kafka_error(self, generation: int, error: KafkaError) -> None:
        if generation != self._generation or self._stopping.is_set():
            return  # a retired producer's, or one stopping
        if error_is_fatal(error):
            self._replace(error.name())
        elif error_means_unreachable(error):
            if self._connected:
                logger.warning("kafka unreachable (%s): appends fail fast", error.name())
            self._connected = False
            self._connect_in_background()
        else:
            logger.debug("kafka error %s", error.name())

    def _connect_in_background(self) -> None:
        if self._connector is None or self._connector.done():
            self._connector = asyncio.create_task(self._connect_forever())

    async def _connect_forever(self) -> None:
        """Probe the current producer's metadata until the events topic is led, then let
        appends through. librdkafka reconnects by itself; this only notices when."""
        delay, attempts = 0.5, 0
        while not self._connected and not self._stopping.is_set():
            producer = self._producer
            assert producer is not None
            if await self._probe(producer, PROBE_SECONDS):
                if producer is self._producer:
                    self._connected = True
                    logger.info(
                        "connected to kafka at %s after %d failed attempts",
                        self._bootstrap,
                        attempts,
                    )
                continue
            attempts += 1
            # Once per outage at warning level: the gateway retries every few seconds.
            log = logger.warning if attempts == 1 else logger.debug
            log("kafka not reachable (topic %s not led); retrying", self._topic)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)

    async def _probe(self, producer: KafkaProducer, wait_seconds: float) -> bool:
        """The producer's metadata probe in a worker thread; tracked, so ``stop`` waits for
        it before closing the producer under it."""
        probe = asyncio.ensure_future(
            asyncio.to_thread(producer.topic_ready, self._topic, wait_seconds)
        )
        self._track(probe)
        return await asyncio.shield(probe)

    def _track(self, task: "asyncio.Future[Any]") -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _replace(self, reason: str) -> None:
        """Retire the current producer and open a new one.

        Called on the loop only, with no await between the check and the swap: however many
        requests saw the fatal error, it retires the producer once (the generation check in
        ``_kafka_error``). The requests still on the old producer get what it reports (its
        queue is purged: 503), and new ones fail fast until the new producer is connected."""
        old = self._producer
        if old is None:
            return
        logger.warning("kafka producer hit a fatal error (%s); replacing it", reason)
        if self._on_replace is not None:
            self._on_replace(reason)
        self._track(asyncio.create_task(self._retire(old)))
        self._open()

    async def _retire(self, producer: KafkaProducer) -> None:
        left = await asyncio.to_thread(producer.close, self._timeout)
        if left:
            logger.warning("retired kafka producer closed with %d records undelivered", left)

    async def stop(self) -> None:
        self._stopping.set()
        if self._connector is not None:
            await self._connector
        # Retirements and probes first: none may still use a producer being closed.
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        producer, self._producer = self._producer, None
        self._connected = False
        if producer is not None:
            left = await asyncio.to_thread(producer.close, self._timeout)
            if left:
                logger.warning("kafka producer stopped with %d records undelivered", left)

    async def append(
        self,
        messages: Sequence[tuple[bytes, bytes]],
        topic: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Append ``(key, value)`` records to ``topic`` (default: the events topic), each
        with the request's id as a header; return once all are acknowledged."""
        producer = self._producer
        if producer is None or not self._connected:
            raise AppendFailed("not connected to kafka")
        if not messages:
            return
        topic = topic or self._topic
        headers: Headers | None = [(REQUEST_ID_HEADER, request_id.encode())] if request_id else None
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[str | None] = loop.create_future()
        delivery = RequestDelivery(loop, acked, len(messages))
        produce = producer.produce
        try:
            for key, value in messages:
                produce(topic, value, key, on_delivery=delivery, headers=headers)
        except BufferError as exc:  # librdkafka's queue is full: Kafka is not keeping up
            raise AppendFailed("producer queue full") from exc
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error_is_fatal(error):
                self._kafka_error(self._generation, error)
            name = error.name() if isinstance(error, KafkaError) else type(exc).__name__
            raise AppendFailed(name) from exc
        try:
            async with asyncio.timeout(self._timeout):
                failure = await acked
        except TimeoutError as exc:
            raise AppendFailed("not acknowledged in time") from exc
        if failure is not None:
            raise AppendFailed(failure)

    async def ready(self) -> bool:
        """Whether the events topic's metadata, every partition led, comes within 2 s."""
        producer = self._producer
        if producer is None or not self._connected:
            return False
        return await self._probe(producer, READY_SECONDS)
