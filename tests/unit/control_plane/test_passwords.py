"""Password hashes run a bounded few at a time; a full queue answers 503 at once."""

import asyncio
import threading
from dataclasses import replace

import pytest

from control_plane.errors import Unavailable
from control_plane.passwords import Passwords
from control_plane.settings import Settings

SETTINGS = Settings(
    database_url="postgresql://unused",
    redis_url="redis://unused",
    kafka_bootstrap="unused:9092",
    argon2_time_cost=1,
    argon2_memory_kib=1024,
    password_hash_concurrency=1,
    password_hash_queue=2,
)


async def test_beyond_the_queue_a_check_is_refused_with_retry_after() -> None:
    passwords = Passwords(SETTINGS)
    gate = threading.Event()
    running = 0

    class SlowHasher:
        def hash(self, password: str) -> str:
            nonlocal running
            running += 1
            gate.wait(10)
            return password

    passwords._hasher = SlowHasher()  # type: ignore[assignment]
    # One runs, two wait: the fourth is refused without waiting.
    tasks = [asyncio.create_task(passwords.hash(f"p{i}")) for i in range(3)]
    await asyncio.sleep(0.1)
    assert running == 1
    with pytest.raises(Unavailable) as refused:
        await passwords.hash("p3")
    assert refused.value.status == 503
    assert refused.value.body == {"error": "Service unavailable", "code": "PASSWORD_CHECKS_BUSY"}
    assert refused.value.headers == {"Retry-After": "1"}
    gate.set()
    assert await asyncio.gather(*tasks) == ["p0", "p1", "p2"]
    assert await passwords.hash("again") == "again"  # the queue drained


async def test_verify_still_checks_passwords() -> None:
    passwords = Passwords(replace(SETTINGS, password_hash_concurrency=2))
    stored = await passwords.hash("correct horse")
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "wrong")
    assert not await passwords.verify(None, "anything")
