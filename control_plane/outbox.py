"""The outbox relay: publishes committed control records to Kafka, exactly once.

One relay at a time per (schema, topic) holds a PostgreSQL advisory lock. It publishes
pending rows in id order, one at a time with acks=all, each record carrying its row id in
the ``ra-outbox-id`` header, and then marks the row. A record Kafka refuses for its content
(too large, invalid: ``refusal_reason``) is marked failed with the reason instead, so it
never holds back the rows behind it, and the producer is replaced (an idempotent
producer's sequence numbers are broken by a refused batch); any other error (the broker
down) retries the row. A relay killed between the publish
and the mark left a record on the topic for an unmarked row; so before publishing, a new
relay reads the tail of the topic, finds the highest row id already there and marks every
row up to it — the record is not published twice. (Consumers also ignore versions they
have applied, which covers a topic whose tail another writer pushed out of reach.)
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from common.kafka import topic_partitions
from control_plane.metrics import Metrics

logger = logging.getLogger(__name__)

OUTBOX_HEADER = "ra-outbox-id"
# Deploys NOTIFY this channel on commit, so the active relay — in whichever App API copy —
# publishes at once instead of at its next poll.
NOTIFY_CHANNEL = "ra_control_outbox"
TAIL_RECORDS = 50
BATCH = 100
# Errors about the record itself: sending it again can only fail again.
_REFUSALS: dict[type[Exception], str] = {
    MessageSizeTooLargeError: "the record is too large for the control topic",
    RecordTooLargeError: "the record is too large for the control topic",
    RecordListTooLargeError: "the record is too large for the control topic",
    CorruptRecordException: "Kafka refused the record as invalid",
    InvalidTimestampError: "Kafka refused the record's timestamp",
}


def refusal_reason(exc: BaseException) -> str | None:
    """Why Kafka will never take this record, or ``None`` for an error worth retrying."""
    for kind, reason in _REFUSALS.items():
        if isinstance(exc, kind):
            return f"{reason} ({type(exc).__name__})"
    return None


class RecordRefused(Exception):
    """A row was marked failed; the producer that sent it must be replaced."""


def highest_outbox_id(headers_seen: list[list[tuple[str, bytes]]]) -> int:
    """The highest ``ra-outbox-id`` among records' headers (0 when there is none)."""
    highest = 0
    for headers in headers_seen:
        for name, value in headers:
            if name == OUTBOX_HEADER and value.isdigit():
                highest = max(highest, int(value))
    return highest


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        bootstrap: str,
        topic: str,
        poll_seconds: float = 1.0,
        metrics: Metrics | None = None,
        after_publish: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._database_url = database_url
        self._bootstrap = bootstrap
        self._topic = topic
        self._poll = poll_seconds
        self._metrics = metrics
        self._after_publish = after_publish  # tests: stop here as a kill would
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Publish now rather than at the next poll (called after a deploy commits)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current step and return from ``run`` (Kafka clients closed cleanly,
        which cancelling them half-started does not guarantee)."""
        self._stopping = True
        self._wake.set()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll)
        if not self._stopping:
            self._wake.clear()

    async def run(self) -> None:
        """Relay until stopped; waits for the lock while another relay holds it."""
        while not self._stopping:
            try:
                await self._run_once()
            except Exception as exc:
                logger.warning("outbox relay interrupted (%s); retrying", type(exc).__name__)
                await self._pause()

    async def _run_once(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._database_url, autocommit=True
        ) as conn:
            while not await self._lock(conn):
                if self._stopping:
                    return
                await self._pause()
            logger.info("outbox relay: active for topic %s", self._topic)
            producer = self._producer()
            listening = asyncio.Event()
            listener = asyncio.create_task(self._listen(listening), name="outbox-listen")
            try:
                # Listen before the first pass, so no deploy falls between the two.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listening.wait(), timeout=10)
                await producer.start()
                await self._recover(conn)
                logger.info("outbox relay: publishing")
                while not self._stopping:
                    try:
                        await self.publish_pending(conn, producer)
                    except RecordRefused:
                        await producer.stop()
                        producer = self._producer()
                        await producer.start()
                        continue  # the rows behind it, now
                    await self._pause()
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
                await producer.stop()

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True
        )

    async def _listen(self, listening: asyncio.Event) -> None:
        """Wake the relay on every deploy's NOTIFY; polling still covers a lost listener."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self._database_url, autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")  # a constant, not input
                listening.set()
                async for _ in conn.notifies():
                    self._wake.set()
        except psycopg.Error as exc:
            logger.warning("outbox relay: not listening (%s); polling", type(exc).__name__)
        finally:
            listening.set()  # never hold the relay back

    async def _lock(self, conn: psycopg.AsyncConnection) -> bool:
        cursor = await conn.execute(
            "SELECT pg_try_advisory_lock(hashtext('ra-outbox:' || current_schema() || ':' || %s))",
            (self._topic,),
        )
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def _recover(self, conn: psycopg.AsyncConnection) -> None:
        published = await self._highest_published_on_topic()
        if published:
            cursor = await conn.execute(
                "UPDATE control_outbox SET published_at = now()"
                " WHERE id <= %s AND published_at IS NULL AND failed_at IS NULL",
                (published,),
            )
            if cursor.rowcount:
                logger.info("outbox: %d entries were already on the topic", cursor.rowcount)

    async def _highest_published_on_topic(self) -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        try:
            await consumer.start()
            tps = await topic_partitions(consumer, self._topic)
            if not tps:
                return 0
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            headers: list[list[tuple[str, bytes]]] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10.0
            for tp in tps:
                if ends[tp] <= starts[tp]:
                    continue
                consumer.seek(tp, max(starts[tp], ends[tp] - TAIL_RECORDS))
                while (await consumer.position(tp)) < ends[tp] and loop.time() < deadline:
                    records = await consumer.getmany(tp, timeout_ms=1000)
                    for message in records.get(tp, []):
                        headers.append(list(message.headers or []))
            return highest_outbox_id(headers)
        finally:
            await consumer.stop()

    async def publish_pending(
        self, conn: psycopg.AsyncConnection, producer: AIOKafkaProducer
    ) -> int:
        cursor = await conn.execute(
            "SELECT id, message_key, payload FROM control_outbox"
            " WHERE published_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT %s",
            (BATCH,),
        )
        rows = await cursor.fetchall()
        for outbox_id, key, payload in rows:
            try:
                await producer.send_and_wait(
                    self._topic,
                    bytes(payload),
                    key=bytes(key),
                    headers=[(OUTBOX_HEADER, str(outbox_id).encode())],
                )
            except Exception as exc:
                reason = refusal_reason(exc)
                if reason is None:
                    raise
                await self._mark_failed(conn, outbox_id, len(payload), reason, exc)
                raise RecordRefused from exc
            if self._after_publish is not None:
                await self._after_publish(outbox_id)
            await conn.execute(
                "UPDATE control_outbox SET published_at = now() WHERE id = %s", (outbox_id,)
            )
            if self._metrics is not None:
                self._metrics.outbox_published.inc()
            logger.info("outbox: published entry %d to %s", outbox_id, self._topic)
        await self._count_pending(conn)
        return len(rows)

    async def _mark_failed(
        self,
        conn: psycopg.AsyncConnection,
        outbox_id: int,
        size: int,
        reason: str,
        exc: Exception,
    ) -> None:
        await conn.execute(
            "UPDATE control_outbox SET failed_at = now(), failure = %s WHERE id = %s",
            (reason, outbox_id),
        )
        logger.warning(
            "outbox: entry %d (%d bytes) refused by Kafka, marked failed: %s",
            outbox_id,
            size,
            reason,
        )
        if self._metrics is not None:
            self._metrics.outbox_failed.labels(type(exc).__name__).inc()
        await self._count_pending(conn)

    async def _count_pending(self, conn: psycopg.AsyncConnection) -> None:
        if self._metrics is not None:
            cursor = await conn.execute(
                "SELECT count(*) FROM control_outbox"
                " WHERE published_at IS NULL AND failed_at IS NULL"
            )
            pending = await cursor.fetchone()
            self._metrics.outbox_pending.set(pending[0] if pending else 0)
