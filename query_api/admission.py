"""Per-project admission: at most N queries of one project run at once in this process,
a short queue waits behind them, and beyond it the answer is a 429. With N below the
database pool's size, one project's wide funnels can never hold every connection, so
another project's query always finds one."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum

from query_api.errors import ConcurrencyLimited


class Admission(Enum):
    RUN = "run"
    QUEUE = "queue"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Limits:
    running: int  # queries of one project running at once
    queued: int  # more of them waiting for a running one to finish
    wait_seconds: float  # the longest one waits before it is refused
    retry_after: int  # the Retry-After of the 429


def admission(running: int, waiting: int, limits: Limits) -> Admission:
    """What a project's next query does, given how many of its queries run and wait.
    Waiting ones go first: a new query only runs at once when nobody is queued."""
    if running < limits.running and waiting == 0:
        return Admission.RUN
    if waiting < limits.queued:
        return Admission.QUEUE
    return Admission.REFUSE


@dataclass(slots=True)
class _Lane:
    slots: asyncio.Semaphore
    running: int = 0
    waiting: int = 0
    users: int = 0  # requests holding or waiting for this lane


class ProjectLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lanes: dict[str, _Lane] = {}

    def running(self, project: str) -> int:
        lane = self._lanes.get(project)
        return lane.running if lane else 0

    @asynccontextmanager
    async def slot(self, project: str) -> AsyncIterator[None]:
        """Hold one of ``project``'s running slots for the block, or raise the 429."""
        lane = self._lanes.get(project)
        if lane is None:
            lane = self._lanes[project] = _Lane(asyncio.Semaphore(self.limits.running))
        decision = admission(lane.running, lane.waiting, self.limits)
        if decision is Admission.REFUSE:
            raise ConcurrencyLimited(self.limits.retry_after)
        lane.users += 1
        try:
            await self._acquire(lane, queued=decision is Admission.QUEUE)
            lane.running += 1
            try:
                yield
            finally:
                lane.running -= 1
                lane.slots.release()
        finally:
            lane.users -= 1
            if lane.users == 0:  # idle: a project that stopped asking costs nothing
                del self._lanes[project]

    async def _acquire(self, lane: _Lane, queued: bool) -> None:
        if not queued:
            await lane.slots.acquire()  # free at once: no wait
            return
        lane.waiting += 1
        try:
            await asyncio.wait_for(lane.slots.acquire(), self.limits.wait_seconds)
        except TimeoutError:
            raise ConcurrencyLimited(self.limits.retry_after) from None
        finally:
            lane.waiting -= 1
