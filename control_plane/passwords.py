"""Password hashing with argon2id, off the event loop (hashing is CPU-bound by design)."""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from control_plane.settings import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        # Verified against when the account does not exist, so that answer takes as long.
        self._dummy = self._hasher.hash("not a real password")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            self._hasher.verify(stored_hash or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored_hash is not None
