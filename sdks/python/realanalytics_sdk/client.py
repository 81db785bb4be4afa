"""``Client``: the threaded client. ``track`` only appends to a bounded in-memory queue;
sender threads batch the queue and deliver it, so the caller never waits on the network.
"""

import atexit
import collections
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from realanalytics_sdk.events import build_event
from realanalytics_sdk.ledger import Done, ErrorCallback, Event, Ledger, Retry, Stats
from realanalytics_sdk.policy import decide
from realanalytics_sdk.transport import Answer, HttpTransport, encode_batch

logger = logging.getLogger("realanalytics_sdk")

DEFAULT_HOST = "https://ingest.realanalytics.dev"
MAX_BATCH_SIZE = 100  # the gateway's limit per request


class Client:
    """Send events to realanalytics from a server, without ever blocking the caller.

    ``track`` validates the event and appends it to a queue of at most ``max_queue_size``
    events. When the queue is full, the new event is **dropped** (``track`` returns False
    and ``stats().dropped`` counts it): a slow or unreachable gateway must never take the
    application's memory or latency with it.

    ``senders`` threads each take up to ``batch_size`` events (at most 100) as soon as that
    many are queued, or whatever is queued after ``flush_interval`` seconds, and POST them
    as one JSON array. Network errors, 429 (rate limit), 5xx and 503 are retried up to
    ``max_retries`` times with exponential backoff and jitter, never sooner than the
    answer's ``Retry-After``; every event carries an ``insertId`` so a retry of a request
    that did arrive is counted once. A 400/401 is not retried (the reason is logged once).
    A 413 splits the batch. ``429 EVENT_LIMIT_EXCEEDED`` stops all sending until the next
    calendar month (UTC): queued and new events are discarded meanwhile.

    ``flush()`` waits until everything queued is delivered; ``close()`` flushes and stops
    the threads. ``close()`` also runs at interpreter exit, waiting at most
    ``shutdown_timeout`` seconds. After ``os.fork()`` the child gets sender threads and an
    empty queue of its own.
    """

    def __init__(
        self,
        public_key: str,
        host: str = DEFAULT_HOST,
        *,
        batch_size: int = MAX_BATCH_SIZE,
        flush_interval: float = 1.0,
        max_queue_size: int = 10_000,
        max_retries: int = 8,
        timeout: float = 10.0,
        senders: int = 2,
        shutdown_timeout: float = 5.0,
        on_error: ErrorCallback | None = None,
        transport_factory: Callable[[], Any] | None = None,
    ) -> None:
        if not public_key:
            raise ValueError("public_key is required (a pk_… key)")
        if public_key.startswith("sk_"):
            raise ValueError("use the project's public key (pk_…), never its secret key")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue_size = max_queue_size
        self._shutdown_timeout = shutdown_timeout
        self._ledger = Ledger(max_retries, on_error)
        self._queue: collections.deque[Event] = collections.deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._flushing = 0
        self._closing = False
        self._abort = threading.Event()  # close() ran out of time: stop waiting to retry
        self._new_transport = transport_factory or (
            lambda: HttpTransport(host, public_key, timeout)
        )
        self._senders = senders
        self._threads: list[threading.Thread] = []
        self._start_senders()
        atexit.register(self._close_at_exit)
        # A forked child (gunicorn --preload, multiprocessing) inherits the client but not
        # its threads: give it threads and a queue of its own.
        child_hook = _call_if_alive(weakref.ref(self))
        os.register_at_fork(after_in_child=child_hook)

    def track(
        self,
        event: str,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timestamp: datetime | str | None = None,
        insert_id: str | None = None,
    ) -> bool:
        """Queue one event; False if it was not taken (queue full, over limit, closed).

        Raises ``ValueError`` for an event the gateway would refuse (empty name, more than
        100 properties, ...). ``session_id`` defaults to ``distinct_id``; ``timestamp`` to
        now; ``insert_id`` to a random UUID (pass your own to deduplicate your retries).
        """
        built = build_event(
            event,
            distinct_id,
            properties,
            session_id=session_id,
            timestamp=timestamp,
            insert_id=insert_id,
        )
        with self._cond:
            if self._closing:
                self._ledger.drop()
                return False
            if self._ledger.paused_until is not None and self._ledger.paused(datetime.now(UTC)):
                self._ledger.discard(1)
                return False
            if len(self._queue) >= self._max_queue_size:
                self._ledger.drop()
                return False
            self._queue.append(built)
            if len(self._queue) % self._batch_size == 0:
                self._cond.notify()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything queued now; True once done, False if ``timeout`` passed first."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(
                    lambda: not self._queue and self._in_flight == 0, timeout
                )
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender threads; events still pending after ``timeout``
        seconds are abandoned (counted as discarded). ``track`` refuses events afterwards."""
        atexit.unregister(self._close_at_exit)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self._abort.set()
            with self._cond:
                self._ledger.discard(len(self._queue))
                self._queue.clear()
                self._cond.notify_all()
            for thread in self._threads:
                thread.join(1.0)

    def stats(self) -> Stats:
        with self._cond:
            queued = len(self._queue)
        ledger = self._ledger
        return Stats(queued, ledger.sent, ledger.dropped, ledger.discarded, ledger.paused_until)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(self._shutdown_timeout)

    # ------------------------------------------------------------ sender threads

    def _start_senders(self) -> None:
        self._threads = [
            threading.Thread(target=self._run, name=f"realanalytics-sender-{i}", daemon=True)
            for i in range(self._senders)
        ]
        for thread in self._threads:
            thread.start()

    def _after_fork_in_child(self) -> None:
        # Locks held by the parent's threads at the fork would never be released here.
        # The parent still sends the events it had queued; the child starts empty.
        self._cond = threading.Condition()
        self._queue = collections.deque()
        self._in_flight = 0
        self._flushing = 0
        self._abort = threading.Event()
        self._ledger.after_fork()
        if not self._closing:
            self._start_senders()

    def _close_at_exit(self) -> None:
        self.close(self._shutdown_timeout)

    def _run(self) -> None:
        transport = self._new_transport()
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                try:
                    self._deliver(batch, transport)
                except Exception:  # a bug here must not kill the thread and strand the queue
                    logger.exception("realanalytics sender failed; batch discarded")
                    self._ledger.discard(len(batch))
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
        finally:
            transport.close()

    def _next_batch(self) -> list[Event] | None:
        """Wait for a full batch, the time bound, a flush or close; None when closed and empty."""
        with self._cond:
            deadline = time.monotonic() + self._flush_interval
            while True:
                queued = len(self._queue)
                if queued >= self._batch_size or (
                    queued and (self._flushing or self._closing or self._abort.is_set())
                ):
                    break
                if self._closing and not queued:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if queued:
                        break
                    deadline = time.monotonic() + self._flush_interval
                    remaining = self._flush_interval
                self._cond.wait(remaining)
            count = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._in_flight += 1
            return batch

    def _deliver(self, batch: list[Event], transport: Any) -> None:
        pending = [batch]
        while pending:
            part = pending.pop()
            attempt = 0
            while True:
                if self._ledger.paused(datetime.now(UTC)) or self._abort.is_set():
                    self._ledger.discard(len(part))
                    break
                answer: Answer = transport.send(encode_batch(part))
                decision = decide(answer.status, answer.body, answer.retry_after)
                step = self._ledger.settle(
                    part, decision, attempt, datetime.now(UTC), random.random
                )
                if isinstance(step, Done):
                    if self._ledger.paused_until is not None:
                        self._discard_queue()
                    break
                if isinstance(step, Retry):
                    attempt += 1
                    self._abort.wait(step.delay)
                    continue
                pending.extend(reversed(step.parts))
                break

    def _discard_queue(self) -> None:
        with self._cond:
            self._ledger.discard(len(self._queue))
            self._queue.clear()
            self._cond.notify_all()


def _call_if_alive(ref: "weakref.ReferenceType[Client]") -> Callable[[], None]:
    def hook() -> None:
        client = ref()
        if client is not None:
            client._after_fork_in_child()

    return hook
