"""``AsyncClient``: the asyncio client for aiohttp/FastAPI servers (needs ``aiohttp``).

Same behaviour and options as ``Client`` (see its docstring), on the running event loop
instead of a thread of its own: ``track`` is a plain, non-blocking method; one background
task forms batches and up to ``concurrency`` requests are in flight at once
(``sender.py``, shared with ``Client``), through an aiohttp session.
"""

import asyncio
import gzip
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from realanalytics_sdk.client import DEFAULT_CONCURRENCY, DEFAULT_HOST
from realanalytics_sdk.events import encode
from realanalytics_sdk.identity import Identity
from realanalytics_sdk.ledger import ErrorCallback, Stats
from realanalytics_sdk.sender import MAX_BATCH_SIZE, Sender
from realanalytics_sdk.transport import (
    USER_AGENT,
    Answer,
    Transport,
    check_public_key,
    ingest_target,
)


class AiohttpTransport:
    """Posts batches through one aiohttp session, opened on the first send."""

    def __init__(
        self, url: str, public_key: str, timeout: float, *, compress: bool = False
    ) -> None:
        self._url = url
        self._compress = compress
        self._headers = {
            "Content-Type": "application/json",
            "X-API-Key": public_key,
            "User-Agent": USER_AGENT,
        }
        if compress:
            self._headers["Content-Encoding"] = "gzip"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, body: bytes) -> Answer:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        if self._compress:
            body = gzip.compress(body, compresslevel=1)
        try:
            async with self._session.post(self._url, data=body) as response:
                return Answer(
                    response.status, await response.read(), response.headers.get("Retry-After")
                )
        except (aiohttp.ClientError, TimeoutError, OSError):
            return Answer(None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class AsyncClient(Identity):
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
        concurrency: int = DEFAULT_CONCURRENCY,
        compress: bool = False,
        on_error: ErrorCallback | None = None,
        transport_factory: Callable[[], Transport] | None = None,
    ) -> None:
        check_public_key(public_key)
        scheme, netloc, path = ingest_target(host)
        url = f"{scheme}://{netloc}{path}"
        self._sender = Sender(
            transport_factory
            or (lambda: AiohttpTransport(url, public_key, timeout, compress=compress)),
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue_size=max_queue_size,
            max_retries=max_retries,
            concurrency=concurrency,
            on_error=on_error,
        )
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._runner is None:
            self._sender.attach()
            self._runner = asyncio.create_task(self._sender.run(), name="realanalytics")

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
        fragment = encode(
            event,
            distinct_id,
            properties,
            session_id=session_id,
            timestamp=timestamp,
            insert_id=insert_id,
        )
        return self._sender.offer(fragment)

    async def flush(self) -> None:
        """Deliver everything queued now (bound it with ``asyncio.timeout`` if needed)."""
        await self.start()
        await self._sender.flush()

    async def aclose(self, grace: float | None = 5.0) -> None:
        """Flush (for at most ``grace`` seconds), then stop; leftovers count as discarded."""
        await self.start()
        assert self._runner is not None
        await self._sender.aclose(grace)
        await self._runner

    def stats(self) -> Stats:
        return self._sender.stats()

    async def __aenter__(self) -> "AsyncClient":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
