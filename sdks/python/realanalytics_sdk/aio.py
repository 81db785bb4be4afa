"""``AsyncClient``: the asyncio client for aiohttp/FastAPI servers (needs ``aiohttp``).

Same behaviour and options as ``Client`` (see its docstring), on the running event loop
instead of threads: ``track`` is a plain, non-blocking method; one background task forms
batches and up to ``concurrency`` requests are in flight at once.
"""

import asyncio
import collections
import contextlib
import functools
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from realanalytics_sdk.client import DEFAULT_HOST, MAX_BATCH_SIZE
from realanalytics_sdk.events import build_event
from realanalytics_sdk.ledger import Done, ErrorCallback, Event, Ledger, Retry, Stats
from realanalytics_sdk.policy import decide
from realanalytics_sdk.transport import USER_AGENT, encode_batch, ingest_target

logger = logging.getLogger("realanalytics_sdk")


class AsyncClient:
    """Use as ``async with AsyncClient(key, host) as client:`` or call ``start()`` on
    start-up and ``await aclose()`` on shutdown (e.g. in an aiohttp ``cleanup_ctx`` or a
    FastAPI lifespan). Events tracked before ``start()`` wait in the queue."""

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
        concurrency: int = 4,
        on_error: ErrorCallback | None = None,
    ) -> None:
        if not public_key or public_key.startswith("sk_"):
            raise ValueError("use the project's public key (pk_…), never its secret key")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        scheme, netloc, path = ingest_target(host)
        self._url = f"{scheme}://{netloc}{path}"
        self._headers = {
            "Content-Type": "application/json",
            "X-API-Key": public_key,
            "User-Agent": USER_AGENT,
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue_size = max_queue_size
        self._ledger = Ledger(max_retries, on_error)
        self._queue: collections.deque[Event] = collections.deque()
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._flushing = 0
        self._closing = False
        self._aborting = False
        self._batcher: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._batcher is None:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
            self._batcher = asyncio.create_task(self._form_batches(), name="realanalytics")

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
        """Queue one event (see ``Client.track``); never awaits, never blocks."""
        built = build_event(
            event,
            distinct_id,
            properties,
            session_id=session_id,
            timestamp=timestamp,
            insert_id=insert_id,
        )
        if self._closing or len(self._queue) >= self._max_queue_size:
            self._ledger.drop()
            return False
        if self._ledger.paused_until is not None and self._ledger.paused(datetime.now(UTC)):
            self._ledger.discard(1)
            return False
        self._queue.append(built)
        if len(self._queue) >= self._batch_size:
            self._wake.set()
        return True

    async def flush(self) -> None:
        """Deliver everything queued now (bound it with ``asyncio.timeout`` if needed)."""
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

    async def aclose(self, grace: float | None = 5.0) -> None:
        """Flush (for at most ``grace`` seconds), then stop; leftovers count as discarded."""
        if self._batcher is None:
            await self.start()
        try:
            async with asyncio.timeout(grace):
                await self.flush()
        except TimeoutError:
            self._aborting = True
            for task in list(self._sends):
                task.cancel()
            await asyncio.gather(*self._sends, return_exceptions=True)
            self._ledger.discard(len(self._queue))
            self._queue.clear()
        self._closing = True
        self._wake.set()
        if self._batcher is not None:
            await self._batcher
        if self._session is not None:
            await self._session.close()

    def stats(self) -> Stats:
        ledger = self._ledger
        return Stats(
            len(self._queue), ledger.sent, ledger.dropped, ledger.discarded, ledger.paused_until
        )

    async def __aenter__(self) -> "AsyncClient":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ background work

    async def _form_batches(self) -> None:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self._concurrency)
        while True:
            deadline = loop.time() + self._flush_interval
            while True:
                queued = len(self._queue)
                if queued >= self._batch_size or (queued and (self._flushing or self._closing)):
                    break
                if self._closing and not queued:
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    if queued:
                        break
                    deadline = loop.time() + self._flush_interval
                    remaining = self._flush_interval
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._wake.wait()
            await slots.acquire()
            count = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            if not batch:
                slots.release()
                continue
            task = asyncio.create_task(self._deliver(batch))
            self._sends.add(task)
            task.add_done_callback(functools.partial(self._sent, slots=slots))

    def _sent(self, task: "asyncio.Task[None]", slots: asyncio.Semaphore) -> None:
        self._sends.discard(task)
        slots.release()

    async def _deliver(self, batch: list[Event]) -> None:
        pending = [batch]
        while pending:
            part = pending.pop()
            attempt = 0
            while True:
                if self._aborting or self._ledger.paused(datetime.now(UTC)):
                    self._ledger.discard(len(part))
                    break
                status, body, retry_after = await self._post(encode_batch(part))
                decision = decide(status, body, retry_after)
                step = self._ledger.settle(
                    part, decision, attempt, datetime.now(UTC), random.random
                )
                if isinstance(step, Done):
                    if self._ledger.paused_until is not None:
                        self._ledger.discard(len(self._queue))
                        self._queue.clear()
                    break
                if isinstance(step, Retry):
                    attempt += 1
                    await asyncio.sleep(step.delay)
                    continue
                pending.extend(reversed(step.parts))
                break

    async def _post(self, body: bytes) -> tuple[int | None, bytes, str | None]:
        assert self._session is not None
        try:
            async with self._session.post(self._url, data=body) as response:
                return response.status, await response.read(), response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None, b"", None
