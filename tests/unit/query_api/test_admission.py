"""Per-project admission: the decision as a pure function, and the limiter's behaviour
with real asyncio tasks (no server)."""

import asyncio

import pytest

from query_api.admission import Admission, Limits, ProjectLimiter, admission
from query_api.errors import ConcurrencyLimited
from query_api.settings import Settings

LIMITS = Limits(running=2, queued=3, wait_seconds=5.0, retry_after=2)


@pytest.mark.parametrize(
    ("running", "waiting", "expected"),
    [
        (0, 0, Admission.RUN),
        (1, 0, Admission.RUN),
        (2, 0, Admission.QUEUE),
        (1, 1, Admission.QUEUE),  # someone is queued: no overtaking
        (2, 2, Admission.QUEUE),
        (2, 3, Admission.REFUSE),
    ],
)
def test_admission_runs_then_queues_then_refuses(running, waiting, expected):
    assert admission(running, waiting, LIMITS) is expected


async def hold(limiter: ProjectLimiter, project: str, release: asyncio.Event) -> None:
    async with limiter.slot(project):
        await release.wait()


async def test_a_project_runs_at_most_its_share_and_others_are_not_held_back():
    limiter, release = ProjectLimiter(LIMITS), asyncio.Event()
    noisy = [asyncio.create_task(hold(limiter, "a", release)) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert limiter.running("a") == 2
    with pytest.raises(ConcurrencyLimited) as refused:
        await hold(limiter, "a", release)
    assert refused.value.retry_after == 2
    assert refused.value.body["code"] == "QUERY_CONCURRENCY_LIMIT"
    async with asyncio.timeout(1):  # another project is admitted at once
        async with limiter.slot("b"):
            assert limiter.running("b") == 1
    release.set()
    await asyncio.gather(*noisy)
    assert limiter.running("a") == 0 and not limiter._lanes  # idle lanes are dropped


async def test_a_queued_query_runs_when_a_slot_frees_and_times_out_otherwise():
    limiter = ProjectLimiter(Limits(running=1, queued=1, wait_seconds=0.05, retry_after=1))
    release = asyncio.Event()
    first = asyncio.create_task(hold(limiter, "a", release))
    await asyncio.sleep(0.01)
    with pytest.raises(ConcurrencyLimited):  # waited 50 ms in the queue
        await hold(limiter, "a", release)
    second = asyncio.create_task(hold(limiter, "a", asyncio.Event()))
    await asyncio.sleep(0.01)
    release.set()
    await first
    await asyncio.sleep(0.01)
    assert limiter.running("a") == 1  # the queued one took the freed slot
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert limiter.running("a") == 0 and not limiter._lanes


def test_one_project_can_never_hold_the_whole_database_pool():
    with pytest.raises(ValueError, match="below db_pool_size"):
        Settings(database_url="x", redis_url="y", db_pool_size=4, project_concurrency=4)
    Settings(database_url="x", redis_url="y", db_pool_size=4, project_concurrency=3)
