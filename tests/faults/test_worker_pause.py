"""A worker frozen with SIGSTOP past its session timeout while a second worker of its group
takes its partitions over, then woken with SIGCONT: the batch it held when it froze must
not be applied a second time (the other worker applied those records meanwhile), and every
event answered 200 is counted exactly once."""

import asyncio
import signal
import time
from collections.abc import Callable

import pytest

from tests.faults.fault import recovered, warmed_up
from tests.faults.judgement import Verdict, judge, watching
from tests.faults.load import Load, running
from tests.faults.servers import Servers
from tests.faults.stack import running_stack
from tests.integration.stream_workers.workers import applied_total

pytestmark = [pytest.mark.faults, pytest.mark.long]

SESSION_TIMEOUT = 8  # seconds; Kafka's group.min.session.timeout.ms is 6 s
TAKEOVER_BOUND = 60.0


async def test_a_paused_worker_does_not_apply_its_stale_batch_twice(
    servers: Servers, tmp_path, verdict: Callable[[str], Verdict]
) -> None:
    row = verdict(f"worker SIGSTOP past its {SESSION_TIMEOUT} s session, then SIGCONT")
    settings = {"RA_WORKER_SESSION_TIMEOUT_SECONDS": str(SESSION_TIMEOUT)}
    async with (
        running_stack(servers, tmp_path, workers=2, worker_settings=settings) as stack,
        watching(stack) as progress,
    ):
        frozen, other = stack.workers
        load = Load(f"{stack.gateway_url}/", stack.project.public_key)
        async with running(load):
            await warmed_up(stack, load)
            deadline = time.monotonic() + 90
            while not all(applied_total(w.port) > 0 for w in stack.workers):
                assert time.monotonic() < deadline, "both workers never applied"
                await asyncio.sleep(0.3)  # both hold partitions: the group is balanced
            assert frozen.process is not None
            frozen.process.send_signal(signal.SIGSTOP)
            stopped_at = time.monotonic()
            try:
                deadline = stopped_at + TAKEOVER_BOUND
                while (taken := progress.every_partition_applied_after(stopped_at)) is None:
                    assert time.monotonic() < deadline, "its partitions were never taken over"
                    await asyncio.sleep(0.25)
                await asyncio.sleep(2)  # the other worker applies the frozen one's records
            finally:
                frozen.process.send_signal(signal.SIGCONT)
            woken_at = time.monotonic()
            await recovered(load, progress, woken_at, row)
            await asyncio.sleep(5)  # the woken worker rejoins, its stale batch refused
        row.apply_recovery = taken - stopped_at
        await judge(stack, load, row)
        assert other.process is not None and other.process.poll() is None
    print(f"\npartitions all applied again {taken - stopped_at:.1f} s after SIGSTOP")
