import asyncio

import pytest

from stream_workers.retry import apply_until_done


async def test_a_failing_batch_is_retried_until_it_applies() -> None:
    attempts, failures = [], []

    async def apply() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("database not migrated yet")

    await apply_until_done(apply, lambda: failures.append(1), first_delay=0.001)
    assert (len(attempts), len(failures)) == (3, 2)


async def test_cancellation_is_not_swallowed() -> None:
    async def never() -> None:
        raise RuntimeError("down")

    task = asyncio.create_task(apply_until_done(never, first_delay=10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
