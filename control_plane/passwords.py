"""Password hashing with argon2id, off the event loop (hashing is CPU-bound by design).

At most ``password_hash_concurrency`` hashes run at once (each takes a core and 19 MiB)
and at most ``password_hash_queue`` more wait; a login beyond that is answered 503 with
Retry-After at once, instead of every login slowing down until all of them time out.
"""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from control_plane.errors import Unavailable
from control_plane.settings import Settings

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        # Verified against when the account does not exist, so that answer takes as long.
        self._dummy = self._hasher.hash("not a real password")
        self._slots = asyncio.Semaphore(max(1, settings.password_hash_concurrency))
        self._queue_limit = max(0, settings.password_hash_queue)
        self._waiting = 0

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await self._run(self._verify, stored_hash, password)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        if self._slots.locked() and self._waiting >= self._queue_limit:
            raise Unavailable("PASSWORD_CHECKS_BUSY", RETRY_AFTER_SECONDS)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._slots.release()

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            self._hasher.verify(stored_hash or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored_hash is not None
