"""The librdkafka producer under the appender: its settings, its poll thread, and the bridge
from its per-record delivery reports to one asyncio future per request.

librdkafka does the batching, the retries and the idempotent sequence numbers in its own
threads; Python only hands it records (``produce``, on the event loop: a queue append in C)
and serves its callbacks. One thread of ours polls: it runs the delivery reports and the
error callback, and settles each request's future on the loop with a single
``call_soon_threadsafe`` once that request's last record is acknowledged (or its first one
failed). Only that thread serves callbacks while the producer lives, so a request's
countdown needs no lock; ``close`` stops it before flushing, for the same reason.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from common.logs import RepeatFilter

logger = logging.getLogger(__name__)
librdkafka_logger = logging.getLogger("ingest_gateway.librdkafka")

POLL_SECONDS = 0.1  # how long the poll thread blocks when idle (its stop latency)
QUEUE_MAX_MESSAGES = 200_000  # past this, produce() raises BufferError: the request gets 503
RECONNECT_MAX_MS = 2_000  # librdkafka's longest wait between two connection attempts

ErrorHandler = Callable[[KafkaError], None]


def quiet(logger: logging.Logger) -> None:
    """Cap librdkafka's repeated lines as common.logs does aiokafka's: while the broker is
    away it logs every reconnect attempt (about 20 a second seen here)."""
    if not any(isinstance(f, RepeatFilter) for f in logger.filters):
        logger.addFilter(RepeatFilter())


def producer_config(bootstrap: str, timeout_seconds: float, linger_ms: int) -> dict[str, Any]:
    """librdkafka's settings for the gateway's producer (decision 0019)."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": "ingest-gateway",
        # acks=all, retries without duplicates or reordering, max.in.flight <= 5: the
        # idempotent producer sets them and refuses a contradicting value.
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "batch.size": 512 * 1024,
        # A record not acknowledged by then fails (_MSG_TIMED_OUT), about when its client
        # gets the 503; librdkafka bumps the producer epoch past a timed-out record instead
        # of leaving a hole in the sequence, so a timeout does not break the producer.
        "message.timeout.ms": max(1, int(timeout_seconds * 1000)),
        "queue.buffering.max.messages": QUEUE_MAX_MESSAGES,
        # The Java client's partition for a key (murmur2), as ingest_gateway.partitioner
        # and every consumer that co-partitions by key expect.
        "partitioner": "murmur2_random",
        # A missing topic is an operator's mistake to surface (503, /ready false), not one
        # for the broker to paper over with a topic of its default partition count.
        "allow.auto.create.topics": False,
        "retry.backoff.ms": 100,
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": RECONNECT_MAX_MS,
        "log.connection.close": False,  # the broker closing an idle connection is routine
        "logger": librdkafka_logger,  # its lines through our logging (served by poll)
    }


def error_is_fatal(error: KafkaError) -> bool:
    """Whether librdkafka gave up on this producer for good (an idempotence guarantee it
    cannot keep, e.g. OUT_OF_ORDER_SEQUENCE_NUMBER): only a new producer recovers."""
    return error.fatal() or error.code() == KafkaError._FATAL


def error_means_unreachable(error: KafkaError) -> bool:
    """Whether no broker is connected any more: appends fail fast until one answers."""
    return error.code() == KafkaError._ALL_BROKERS_DOWN


def topic_ready(metadata: Any, topic: str) -> bool:
    """Whether cluster metadata shows ``topic`` with every partition led by a broker."""
    described = metadata.topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        return False
    return all(partition.leader >= 0 for partition in described.partitions.values())


def _settle(future: "asyncio.Future[str | None]", outcome: str | None) -> None:
    if not future.done():  # the request may have timed out (and cancelled it) already
        future.set_result(outcome)


class RequestDelivery:
    """The delivery callback of every record of one request (called on the poll thread).

    Settles the request's future once: with None when the last record is acknowledged, or
    with the error's name at the first record that failed. A result, not an exception: a
    request that already gave up leaves no unretrieved exception behind."""

    __slots__ = ("_failed", "_future", "_left", "_loop")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[str | None]", count: int
    ) -> None:
        self._loop = loop
        self._future = future
        self._left = count
        self._failed = False

    def __call__(self, error: KafkaError | None, message: "Message[Any, Any]") -> None:
        if error is not None:
            if not self._failed:
                self._failed = True
                self._post(error.name())
            return
        self._left -= 1
        if self._left == 0 and not self._failed:
            self._post(None)

    def _post(self, outcome: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(_settle, self._future, outcome)


class PolledProducer:
    """A librdkafka producer with the thread that polls it.

    ``produce`` is librdkafka's own, called from the event loop. ``topic_ready`` and
    ``close`` block (run them in a worker thread); a lock keeps a metadata probe from
    running while the producer is being closed."""

    def __init__(self, config: dict[str, Any], on_error: ErrorHandler) -> None:
        quiet(librdkafka_logger)
        self._on_error = on_error
        self._producer = Producer({**config, "error_cb": self._error})
        self.produce = self._producer.produce
        self._lock = threading.Lock()
        self._closed = False
        self._polling = True
        self._poller = threading.Thread(target=self._poll, name="kafka-producer-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while self._polling:
            self._producer.poll(POLL_SECONDS)

    def _error(self, error: KafkaError) -> None:
        self._on_error(error)

    def topic_ready(self, topic: str, timeout: float) -> bool:
        """Whether the broker answers metadata for ``topic`` within ``timeout`` (blocks)."""
        with self._lock:
            if self._closed:
                return False
            try:
                metadata = self._producer.list_topics(topic, timeout=timeout)
            except KafkaException:
                return False
        return topic_ready(metadata, topic)

    def close(self, timeout: float) -> int:
        """Deliver what is queued (or let it fail) within ``timeout``, then stop polling;
        the number of records still undelivered (blocks)."""
        with self._lock:
            self._closed = True
        self._polling = False
        self._poller.join()
        # flush() serves the remaining delivery reports on this thread, now the only one.
        return self._producer.flush(timeout)
