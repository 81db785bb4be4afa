"""Batches for the sink, gathered while the previous batch is being written.

Faust's ``take``/``take_events`` stop the stream while their loop body runs, so a worker
using them either reads from Kafka or writes to PostgreSQL, never both. Instead every
record of the events topic goes into a ``Batcher`` (handed over by the fetch loop, or read
from the agent's ``stream.noack()``); one sink task takes what has gathered, applies it,
and only then acknowledges its records — so Kafka's committed offset never passes what
PostgreSQL holds, and the next batch gathers during the write. At most one batch waits
beside the one being written: when both are full, ``add`` waits, and with it the fetch
loop (or the stream, whose buffers then push back on the fetcher).

Batches are cut by size (``max_size``) and by time: a batch is taken once the sink is
free and its first event has waited ``linger`` seconds (or it is full). Under load the
sink is never free, so batches grow towards ``max_size``; when idle, an event is written
``linger`` after it arrives.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Ack = TypeVar("Ack")


def linger_left(first_at: float | None, now: float, linger: float) -> float:
    """Seconds the batch begun at ``first_at`` may still wait for more events."""
    if first_at is None:
        return linger
    return max(0.0, first_at + linger - now)


class Batcher(Generic[Item, Ack]):
    def __init__(
        self,
        apply: Callable[[Sequence[Item]], Awaitable[None]],
        ack: Callable[[Sequence[Ack]], Awaitable[None]],
        max_size: int,
        linger: float,
    ) -> None:
        self._apply = apply
        self._ack = ack
        self._max_size = max_size
        self._linger = linger
        self._items: list[Item] = []
        self._acks: list[Ack] = []
        self._first_at: float | None = None
        self._started = asyncio.Event()  # the gathering batch has an event
        self._full = asyncio.Event()  # the gathering batch is full
        self._room = asyncio.Event()  # the gathering batch has room
        self._room.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sink-batches")

    async def stop(self) -> None:
        """Stop writing; a batch not fully applied is not acknowledged (Kafka re-delivers)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self) -> None:
        """Until the sink task ends: only by an error, raised here (or by ``stop``)."""
        assert self._task is not None, "batcher not started"
        await self._task

    async def add(self, item: Item, ack: Ack) -> None:
        while len(self._items) >= self._max_size:
            self._check_running()
            self._room.clear()
            await self._room.wait()
        self._check_running()
        if not self._items:
            self._first_at = time.monotonic()
            self._started.set()
        self._items.append(item)
        self._acks.append(ack)
        if len(self._items) >= self._max_size:
            self._full.set()

    def _check_running(self) -> None:
        """An error that stopped the sink task stops the agent with it."""
        if self._task is not None and self._task.done():
            self._task.result()
            raise RuntimeError("the sink task ended")

    async def _run(self) -> None:
        try:
            await self._write_batches()
        finally:
            self._room.set()  # wakes an add() waiting for room, which then sees why

    async def _write_batches(self) -> None:
        acking: asyncio.Future[None] | None = None
        try:
            while True:
                await self._started.wait()
                wait = linger_left(self._first_at, time.monotonic(), self._linger)
                if wait > 0 and not self._full.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), wait)
                items, acks = self._items, self._acks
                self._items, self._acks, self._first_at = [], [], None
                self._started.clear()
                self._full.clear()
                self._room.set()
                await self._apply(items)
                if acking is not None:
                    await acking  # batches are acknowledged in order; an error stops here
                # Acknowledged while the next batch is written (acks are bookkeeping only:
                # a batch is acked after it applied, and acking less is always safe).
                acking = asyncio.ensure_future(self._ack(acks))
        finally:
            if acking is not None and not acking.done():
                acking.cancel()
