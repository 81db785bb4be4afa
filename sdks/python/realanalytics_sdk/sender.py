"""The delivery engine both clients share, on an asyncio loop.

A bounded queue of encoded events; a batcher that takes up to ``batch_size`` of them as
soon as that many are queued (or what is queued after ``flush_interval``, on ``flush`` and
on close) and starts a request for each, with up to ``concurrency`` requests in flight.
More than one is in flight only while full batches wait, so a quiet producer uses one
connection and a busy one as many as it needs. Retries back off (``ledger.py``); an
answer's ``Retry-After`` also holds back every other request until it has passed.

``offer`` may be called from any thread (``Client.track``); everything else runs on the
loop the sender was attached to.
"""

import asyncio
import collections
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from realanalytics_sdk.encoding import batch_body
from realanalytics_sdk.ledger import Done, ErrorCallback, Fragment, Ledger, Retry, Stats
from realanalytics_sdk.policy import decide
from realanalytics_sdk.transport import Transport

logger = logging.getLogger("realanalytics_sdk")

MAX_BATCH_SIZE = 100  # the gateway's limit per request


class Sender:
    def __init__(
        self,
        transport_factory: Callable[[], Transport],
        *,
        batch_size: int,
        flush_interval: float,
        max_queue_size: int,
        max_retries: int,
        concurrency: int,
        on_error: ErrorCallback | None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_queue_size < 1:
            raise ValueError("max_queue_size must be at least 1")
        self.ledger = Ledger(max_retries, on_error)
        self._new_transport = transport_factory
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue_size = max_queue_size
        self._concurrency = concurrency
        self._queue: collections.deque[Fragment] = collections.deque()
        self._lock = threading.Lock()  # the queue and the flags below
        self._idle = False  # the batcher waits for a full batch: offer() must wake it
        self._closing = False
        self._aborting = False
        self._flushing = 0
        self._sends: set[asyncio.Task[None]] = set()
        self._hold_until = 0.0  # loop time before which no request starts (Retry-After)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()
        self.ready = threading.Event()  # attached to a loop

    # ------------------------------------------------------------ any thread

    def offer(self, fragment: Fragment) -> bool:
        """Queue one encoded event; False if it was not taken (full, over limit, closed)."""
        with self._lock:
            if self._closing:
                self.ledger.drop()
                return False
            if self.ledger.paused_until is not None and self.ledger.paused(datetime.now(UTC)):
                self.ledger.discard(1)
                return False
            queue = self._queue
            if len(queue) >= self._max_queue_size:
                self.ledger.drop()
                return False
            queue.append(fragment)
            if not self._idle or len(queue) < self._batch_size:
                return True
            self._idle = False
        self._signal()
        return True

    def stats(self) -> Stats:
        ledger = self.ledger
        return Stats(
            len(self._queue), ledger.sent, ledger.dropped, ledger.discarded, ledger.paused_until
        )

    def refuse_new(self) -> None:
        """From now on ``offer`` refuses (used when the loop is already gone)."""
        with self._lock:
            self._closing = True

    def _signal(self) -> None:
        loop = self._loop
        if loop is None:
            return  # not started: the batcher looks at the queue when it starts
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    # ------------------------------------------------------------ on the loop

    def attach(self) -> None:
        """Bind to the running loop (before ``run`` is scheduled, so ``flush`` works)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self.ready.set()

    async def run(self) -> None:
        """Form batches and deliver them until ``aclose``."""
        self.attach()
        transport = self._new_transport()
        slots = asyncio.Semaphore(self._concurrency)
        try:
            while (batch := await self._next_batch(slots)) is not None:
                task = asyncio.create_task(self._deliver(batch, transport))
                self._sends.add(task)
                task.add_done_callback(functools.partial(self._sent, slots=slots))
            await asyncio.gather(*self._sends, return_exceptions=True)
        finally:
            try:
                await transport.close()
            finally:
                self._finished.set()

    async def flush(self) -> None:
        """Until everything queued now is delivered (or given up)."""
        self._flushing += 1
        self._wake.set()
        try:
            while self._queue or self._sends:
                if self._sends:
                    await asyncio.wait(set(self._sends))
                else:
                    await asyncio.sleep(0.005)  # the batcher is taking the next batch
        finally:
            self._flushing -= 1

    async def aclose(self, grace: float | None) -> None:
        """Flush for at most ``grace`` seconds, then stop; leftovers count as discarded."""
        try:
            async with asyncio.timeout(grace):
                await self.flush()
        except TimeoutError:
            self._aborting = True
            self._discard_queue()
            for task in list(self._sends):
                task.cancel()
            await asyncio.gather(*self._sends, return_exceptions=True)
        with self._lock:
            self._closing = True
        self._wake.set()
        await self._finished.wait()

    async def _next_batch(self, slots: asyncio.Semaphore) -> list[Fragment] | None:
        """The next batch once it is due and a request slot is free; None once closed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_interval
        while True:
            with self._lock:
                queued = len(self._queue)
                if self._closing and not queued:
                    return None
                ready = queued >= self._batch_size or (
                    queued > 0 and (self._flushing > 0 or self._closing)
                )
                remaining = deadline - loop.time()
                if not ready and remaining <= 0:
                    ready = queued > 0
                    deadline = loop.time() + self._flush_interval
                    remaining = self._flush_interval
                self._idle = not ready
                if not ready:
                    self._wake.clear()  # under the lock: a later offer() sets it again
            if ready:
                await slots.acquire()
                with self._lock:
                    count = min(self._batch_size, len(self._queue))
                    batch = [self._queue.popleft() for _ in range(count)]
                if batch:
                    return batch
                slots.release()  # the queue was discarded meanwhile
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._wake.wait()

    def _sent(self, task: "asyncio.Task[None]", slots: asyncio.Semaphore) -> None:
        self._sends.discard(task)
        slots.release()
        if not task.cancelled() and task.exception() is not None:
            logger.error("realanalytics sender failed", exc_info=task.exception())

    async def _deliver(self, batch: list[Fragment], transport: Transport) -> None:
        loop = asyncio.get_running_loop()
        pending = [batch]
        unsettled = len(batch)  # neither sent nor discarded yet
        try:
            while pending:
                part = pending.pop()
                body = batch_body(part)
                attempt = 0
                while True:
                    if self._aborting or self.ledger.paused(datetime.now(UTC)):
                        self.ledger.discard(len(part))
                        unsettled -= len(part)
                        break
                    await self._held()
                    answer = await transport.send(body)
                    decision = decide(answer.status, answer.body, answer.retry_after)
                    if decision.retry_after:
                        self._hold_until = max(self._hold_until, loop.time() + decision.retry_after)
                    step = self.ledger.settle(part, decision, attempt, datetime.now(UTC))
                    if isinstance(step, Done):
                        unsettled -= len(part)
                        if self.ledger.paused_until is not None:
                            self._discard_queue()
                        break
                    if isinstance(step, Retry):
                        attempt += 1
                        await asyncio.sleep(step.delay)
                        continue
                    pending.extend(reversed(step.parts))
                    break
        except BaseException:  # cancelled by aclose, or a bug: count what it held
            self.ledger.discard(unsettled)
            raise

    async def _held(self) -> None:
        """Until the latest ``Retry-After`` any answer gave has passed."""
        wait = self._hold_until - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
            await self._held()  # another answer may have pushed it further meanwhile

    def _discard_queue(self) -> None:
        with self._lock:
            self.ledger.discard(len(self._queue))
            self._queue.clear()
