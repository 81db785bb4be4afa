"""The steps every fault shares: the load flowing and applied before the fault, the
server's return timed by its port, the recovery waited for and timed, then the load kept
running a little so that the judgement covers events sent after the fault too."""

import asyncio
import os
import time

from tests.faults.judgement import Progress, Verdict, applied
from tests.faults.load import Load
from tests.faults.servers import accepting
from tests.faults.stack import Stack

# ``FAULTS=long`` (what ``make faults`` sets) takes the long outages; without it each fault
# runs once with a short one, as CI does. Not an RA_* variable: those configure the
# services, and the suite clears them (tests/conftest.py).
LONG = os.environ.get("FAULTS") == "long"
WARM_EVENTS = 400  # answered 200 before the fault
RECOVERY_BOUND = 60.0  # seconds from the server's return to a 200 and an apply
STEADY_SECONDS = 3.0  # load after the recovery


def outage_seconds(short: float, long: float) -> float:
    return long if LONG else short


async def warmed_up(stack: Stack, load: Load) -> None:
    """The load is answered 200 and the workers apply it: the stack works before the fault."""
    await load.until_acknowledged(WARM_EVENTS, timeout=90)
    deadline = time.monotonic() + 90
    while (await applied(stack.database, stack.group) or 0) < WARM_EVENTS // 2:
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text()[-3000:] for p in stack.logs if p.exists())
            raise AssertionError(f"the workers applied too little before the fault\n{tails}")
        await asyncio.sleep(0.2)


async def port_open(address: str, timeout: float = 180.0) -> float:
    """When (``time.monotonic()``) ``host:port`` first accepts a connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(accepting, address):
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{address} did not open within {timeout}s")


async def recovered(load: Load, progress: Progress, back_at: float, verdict: Verdict) -> None:
    """Wait for the first 200 to a request sent after ``back_at`` and the first apply
    after it; record both in the verdict (seconds after ``back_at``)."""
    deadline = time.monotonic() + RECOVERY_BOUND
    while True:
        first_200 = load.first_200_sent_after(back_at)
        first_apply = progress.first_apply_after(back_at)
        if first_200 is not None and first_apply is not None:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no recovery within {RECOVERY_BOUND}s: 200 {first_200}, apply {first_apply}"
            )
        await asyncio.sleep(0.1)
    verdict.ingest_recovery = first_200 - back_at
    verdict.apply_recovery = first_apply - back_at
    await asyncio.sleep(STEADY_SECONDS)
