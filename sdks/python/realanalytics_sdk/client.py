"""``Client``: the threaded client. ``track`` only appends an encoded event to a bounded
in-memory queue; one background thread runs the delivery (``sender.py``) on an asyncio
loop of its own, with several requests in flight, so the caller never waits on the network.
"""

import asyncio
import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from realanalytics_sdk.connections import ConnectionPool
from realanalytics_sdk.events import encode
from realanalytics_sdk.identity import Identity
from realanalytics_sdk.ledger import ErrorCallback, Stats
from realanalytics_sdk.sender import MAX_BATCH_SIZE, Sender
from realanalytics_sdk.transport import Transport, check_public_key, ingest_target

logger = logging.getLogger("realanalytics_sdk")

DEFAULT_HOST = "https://ingest.realanalytics.dev"
DEFAULT_CONCURRENCY = 16
__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_HOST", "MAX_BATCH_SIZE", "Client"]


class Client(Identity):
    """Send events to realanalytics from a server, without ever blocking the caller.

    ``track`` validates the event, encodes it to JSON and appends it to a queue of at most
    ``max_queue_size`` events. When the queue is full, the new event is **dropped**
    (``track`` returns False and ``stats().dropped`` counts it): a slow or unreachable
    gateway must never take the application's memory or latency with it.

    One background thread takes up to ``batch_size`` events (at most 100) as soon as that
    many are queued, or whatever is queued after ``flush_interval`` seconds, and POSTs
    them as one JSON array over a keep-alive connection; while full batches wait, up to
    ``concurrency`` requests are in flight at once. Network errors, 429 (rate limit), 5xx
    and 503 are retried up to ``max_retries`` times with exponential backoff and jitter,
    never sooner than the answer's ``Retry-After`` (which also holds back the other
    requests); every event carries an ``insertId`` so a retry of a request that did arrive
    is counted once. A 400/401 is not retried (the reason is logged once). A 413 splits
    the batch. ``429 EVENT_LIMIT_EXCEEDED`` stops all sending until the next calendar month
    (UTC): queued and new events are discarded meanwhile. ``compress=True`` gzips bodies
    (about 9x smaller; off by default: it costs CPU that only a slow network pays back).

    ``flush()`` waits until everything queued is delivered; ``close()`` flushes and stops
    the thread. ``close()`` also runs at interpreter exit, waiting at most
    ``shutdown_timeout`` seconds. After ``os.fork()`` the child gets a sender thread and an
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
        concurrency: int = DEFAULT_CONCURRENCY,
        compress: bool = False,
        shutdown_timeout: float = 5.0,
        on_error: ErrorCallback | None = None,
        transport_factory: Callable[[], Transport] | None = None,
    ) -> None:
        check_public_key(public_key)
        ingest_target(host)  # a bad URL fails here, not in the sender thread
        self._shutdown_timeout = shutdown_timeout

        def new_sender() -> Sender:
            return Sender(
                transport_factory
                or (lambda: ConnectionPool(host, public_key, timeout, compress=compress)),
                batch_size=batch_size,
                flush_interval=flush_interval,
                max_queue_size=max_queue_size,
                max_retries=max_retries,
                concurrency=concurrency,
                on_error=on_error,
            )

        self._new_sender = new_sender
        self._sender = self._new_sender()
        self._orphans: list[Sender] = []
        self._closed = False
        self._thread = self._start_thread()
        atexit.register(self._close_at_exit)
        # A forked child (gunicorn --preload, multiprocessing) inherits the client but not
        # its thread: give it a thread and a queue of its own.
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
        now; ``insert_id`` to 128 random bits (pass your own to deduplicate your retries).
        """
        fragment = encode(
            event,
            distinct_id,
            properties,
            session_id=session_id,
            timestamp=timestamp,
            insert_id=insert_id,
        )
        return self._sender.offer(fragment)

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything queued now; True once done, False if ``timeout`` passed first."""
        sender = self._sender
        if not self._thread.is_alive():
            return sender.stats().queued == 0
        if threading.current_thread() is self._thread:  # e.g. from on_error: would deadlock
            raise RuntimeError("flush() cannot be called from the sender thread")
        future = asyncio.run_coroutine_threadsafe(sender.flush(), self._loop(sender))
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()
            return False
        return True

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender thread; events still pending after ``timeout``
        seconds are abandoned (counted as discarded). ``track`` refuses events afterwards."""
        atexit.unregister(self._close_at_exit)
        self._closed = True
        sender = self._sender
        if not self._thread.is_alive():
            sender.refuse_new()
            return
        if threading.current_thread() is self._thread:
            raise RuntimeError("close() cannot be called from the sender thread")
        future = asyncio.run_coroutine_threadsafe(sender.aclose(timeout), self._loop(sender))
        try:
            # aclose() gives up on what is left after ``timeout``; a little more for that.
            future.result(None if timeout is None else timeout + 5.0)
        except TimeoutError:
            logger.error("realanalytics sender did not stop in time")
            sender.refuse_new()
        self._thread.join(None if timeout is None else 1.0)

    def stats(self) -> Stats:
        return self._sender.stats()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(self._shutdown_timeout)

    # ------------------------------------------------------------ the sender thread

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=_run_loop, args=(self._sender,), name="realanalytics", daemon=True
        )
        thread.start()
        return thread

    @staticmethod
    def _loop(sender: Sender) -> asyncio.AbstractEventLoop:
        sender.ready.wait()
        loop = sender._loop
        assert loop is not None
        return loop

    def _after_fork_in_child(self) -> None:
        # The parent's thread, loop and connections are not ours (its loop's selector and
        # sockets are shared with the parent: never touch them, never let them be
        # collected and closed). The parent still sends what it had queued; the child
        # starts empty.
        self._orphans.append(self._sender)
        self._sender = self._new_sender()
        if self._closed:
            self._sender.refuse_new()
        else:
            self._thread = self._start_thread()

    def _close_at_exit(self) -> None:
        self.close(self._shutdown_timeout)


def _run_loop(sender: Sender) -> None:
    # Not asyncio.run(): its clean-up may start a thread, which interpreter exit forbids.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_deliver_until_closed(sender))
    finally:
        loop.close()


async def _deliver_until_closed(sender: Sender) -> None:
    await sender.run()
    # Then let what close() and flush() run on this loop return to their callers
    # (aclose() resumes only after run() has ended).
    others = asyncio.all_tasks() - {asyncio.current_task()}
    await asyncio.gather(*others, return_exceptions=True)


def _call_if_alive(ref: "weakref.ReferenceType[Client]") -> Callable[[], None]:
    def hook() -> None:
        client = ref()
        if client is not None:
            client._after_fork_in_child()

    return hook
