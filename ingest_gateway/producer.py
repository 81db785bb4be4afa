"""Appends records to the events topic (or the overflow one): acks=all, idempotent, batched.

``append`` returns only once Kafka has acknowledged every record of the request, or raises
``AppendFailed`` when that cannot happen within the bound — the handler answers 503 then.
If the broker is unreachable at start-up, the gateway still starts (after a bounded wait) and
keeps connecting in the background; every append meanwhile fails fast.

A producer that gave up on a record is replaced. The idempotent producer numbers each
partition's records; aiokafka assigns those numbers when a batch is drained, so a batch that
then fails (typically one that expired while its partition had no leader, as when the broker
stops) leaves a hole in the sequence, and the broker refuses every later batch for that
partition with ``OutOfOrderSequenceNumber`` — for good, as aiokafka does not reset its
sequence state (aio-libs/aiokafka#1017). Only a new producer (a new producer id, sequences
from 0) recovers, so the first failure retires the producer and a fresh one connects in the
background: appends answer 503 meanwhile, and ingest resumes as soon as the broker answers.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    ProducerClosed,
    UnknownTopicOrPartitionError,
)

from contracts.events import REQUEST_ID_HEADER
from ingest_gateway.partitioner import partition_for

logger = logging.getLogger(__name__)

# What ``send`` may raise about one request while the producer itself stays sound: a full
# buffer or slow metadata, a topic the broker does not know, or a race with a replacement
# that already closed this producer. Anything else from ``send`` is a producer whose sender
# died (aiokafka re-raises that error on every later send).
_REQUEST_ERRORS = (KafkaTimeoutError, UnknownTopicOrPartitionError, ProducerClosed)

RECONNECT_MAX_DELAY_SECONDS = 2.0  # how late, at most, ingest notices the broker is back


class AppendFailed(Exception):
    pass


def send_error_breaks_producer(exc: BaseException) -> bool:
    """Whether ``send`` raising ``exc`` means the producer can deliver nothing more."""
    return isinstance(exc, KafkaError) and not isinstance(exc, _REQUEST_ERRORS)


def delivery_breaks_producer(ack: "asyncio.Future[object]") -> bool:
    """Whether a finished delivery leaves the producer's sequence state broken.

    With idempotence aiokafka retries every retriable error for as long as the partition
    has a leader, so a delivery that fails at all is one it gave up on after numbering it:
    the hole every later batch of that partition is refused for."""
    return not ack.cancelled() and ack.exception() is not None


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
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()

    def _new_producer(self) -> AIOKafkaProducer:
        timeout_ms = int(self._timeout * 1000)
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id="ingest-gateway",
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            max_batch_size=512 * 1024,
            # A batch that cannot be delivered expires near the time the client gets its
            # 503, so a record answered 503 is very unlikely to land later (retries with
            # the same insertId are deduplicated by the workers anyway).
            request_timeout_ms=timeout_ms,
            retry_backoff_ms=100,
            partitioner=partition_for,
        )

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Connect, waiting up to ``wait_seconds``; past that keep trying in the background."""
        self._connect_in_background()
        assert self._connector is not None
        await asyncio.wait([self._connector], timeout=wait_seconds)

    def _connect_in_background(self) -> None:
        if self._connector is None or self._connector.done():
            self._connector = asyncio.create_task(self._connect_forever())

    async def _connect_forever(self) -> None:
        delay, attempts = 0.5, 0
        while self._producer is None:
            producer = self._new_producer()
            try:
                await producer.start()
            except asyncio.CancelledError:
                await producer.stop()  # stopped while still connecting
                raise
            except KafkaError as exc:
                attempts += 1
                # Once per outage at warning level: the gateway retries every few seconds.
                log = logger.warning if attempts == 1 else logger.debug
                log("kafka not reachable (%s); retrying", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)
                continue
            self._producer = producer
            logger.info(
                "connected to kafka at %s after %d failed attempts", self._bootstrap, attempts
            )

    def _replace(self, producer: AIOKafkaProducer, reason: str) -> None:
        """Retire ``producer`` and connect a new one, once however many appends saw it fail.

        No lock is needed: the check and the swap run with no await in between, so on the
        event loop they are one step; the appends that still hold the old producer finish
        on it (200 only for what it acknowledged, else 503), and new ones fail fast until
        the single connector task has a new producer."""
        if producer is not self._producer:
            return  # already replaced
        logger.warning("kafka producer gave up on a record (%s); replacing it", reason)
        if self._on_replace is not None:
            self._on_replace(reason)
        self._producer = None
        retiring = asyncio.create_task(self._retire(producer))
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)
        self._connect_in_background()

    @staticmethod
    async def _retire(producer: AIOKafkaProducer) -> None:
        # stop() flushes: records still in the old producer (their requests already
        # answered 503, or about to be) are delivered or fail once the broker answers.
        try:
            await producer.stop()
        except KafkaError as exc:
            logger.warning("retired kafka producer did not stop cleanly (%s)", type(exc).__name__)

    def _watch_delivery(self, producer: AIOKafkaProducer, ack: "asyncio.Future[object]") -> None:
        # Also for records whose request already timed out: their failure breaks the
        # producer just the same, and reading the exception keeps asyncio from logging it.
        if delivery_breaks_producer(ack):
            self._replace(producer, type(ack.exception()).__name__)

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        # Cleared first: a delivery failing during the flush must not start a replacement.
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
        if self._retiring:
            # A retired producer stops once the broker answers; at shut-down, not forever.
            _, stuck = await asyncio.wait(self._retiring, timeout=self._timeout)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)

    async def append(
        self,
        messages: Sequence[tuple[bytes, bytes]],
        topic: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Append ``(key, value)`` records to ``topic`` (default: the events topic), each
        with the request's id as a header; return once all are acknowledged."""
        topic = topic or self._topic
        headers = [(REQUEST_ID_HEADER, request_id.encode())] if request_id else None
        producer = self._producer
        if producer is None:
            raise AppendFailed("not connected to kafka")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        acks: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout_at(deadline):
                for key, value in messages:
                    ack = await producer.send(topic, value=value, key=key, headers=headers)
                    ack.add_done_callback(partial(self._watch_delivery, producer))
                    acks.append(ack)
            # wait, not gather: a timeout must not cancel aiokafka's own delivery futures.
            done, pending = await asyncio.wait(acks, timeout=max(0.0, deadline - loop.time()))
        except KafkaError as exc:
            if send_error_breaks_producer(exc):
                self._replace(producer, type(exc).__name__)
            raise AppendFailed(type(exc).__name__) from exc
        except TimeoutError as exc:
            raise AppendFailed(type(exc).__name__) from exc
        if pending:
            raise AppendFailed("not acknowledged in time")
        for ack in done:
            if ack.exception() is not None:
                raise AppendFailed(type(ack.exception()).__name__)

    async def ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(2):
                return bool(await producer.client.force_metadata_update())
        except (TimeoutError, KafkaError):
            return False
