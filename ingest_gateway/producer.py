"""Appends records to the events topic (or the overflow one): acks=all, idempotent, batched.

``append`` returns only once Kafka has acknowledged every record of the request, or raises
``AppendFailed`` when that cannot happen within the bound — the handler answers 503 then.
If the broker is unreachable at start-up, the gateway still starts (after a bounded wait) and
keeps connecting in the background; every append meanwhile fails fast.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ingest_gateway.partitioner import partition_for

logger = logging.getLogger(__name__)


class AppendFailed(Exception):
    pass


class EventAppender:
    def __init__(self, bootstrap: str, topic: str, timeout_seconds: float, linger_ms: int) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._timeout = timeout_seconds
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None

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
        self._connector = asyncio.create_task(self._connect_forever())
        await asyncio.wait([self._connector], timeout=wait_seconds)

    async def _connect_forever(self) -> None:
        delay = 0.5
        while self._producer is None:
            producer = self._new_producer()
            try:
                await producer.start()
            except asyncio.CancelledError:
                await producer.stop()  # stopped while still connecting
                raise
            except KafkaError as exc:
                logger.warning("kafka not reachable at start-up (%s); retrying", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            logger.info("connected to kafka at %s", self._bootstrap)

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def append(
        self, messages: Sequence[tuple[bytes, bytes]], topic: str | None = None
    ) -> None:
        """Append ``(key, value)`` records to ``topic`` (default: the events topic); return
        once all are acknowledged."""
        topic = topic or self._topic
        producer = self._producer
        if producer is None:
            raise AppendFailed("not connected to kafka")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            async with asyncio.timeout_at(deadline):
                acks = [await producer.send(topic, value=value, key=key) for key, value in messages]
            # wait, not gather: a timeout must not cancel aiokafka's own delivery futures.
            done, pending = await asyncio.wait(acks, timeout=max(0.0, deadline - loop.time()))
        except (TimeoutError, KafkaError) as exc:
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
