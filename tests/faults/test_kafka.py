"""Kafka's broker stopped cleanly, or killed with SIGKILL, under a steady load, then
started again: the gateway answers 503 with Retry-After while it is away (never a 200 for
an event Kafka did not acknowledge), both the gateway and the workers resume by themselves,
and every event answered 200 is counted exactly once."""

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.faults.fault import outage_seconds, port_open, recovered, warmed_up
from tests.faults.judgement import Verdict, judge, watching
from tests.faults.load import Load, running
from tests.faults.servers import Servers
from tests.faults.stack import running_stack

pytestmark = pytest.mark.faults

OUTAGE = outage_seconds(10, 30)

TAKE_AWAY: dict[str, Callable[[Servers], None]] = {
    "stop": lambda servers: servers.stop("kafka"),
    "kill -9": Servers.kill_kafka,
}


# The kill -9 case runs under `make faults`; the gateway's own kill -9 restart test stays in CI.
@pytest.mark.parametrize(
    "how", [pytest.param("stop"), pytest.param("kill -9", marks=pytest.mark.long)]
)
async def test_kafka_broker_away_and_back(
    how: str, servers: Servers, tmp_path, verdict: Callable[[str], Verdict]
) -> None:
    row = verdict(f"Kafka broker {how}, {OUTAGE:.0f} s")
    async with running_stack(servers, tmp_path) as stack, watching(stack) as progress:
        load = Load(f"{stack.gateway_url}/", stack.project.public_key)
        async with running(load):
            await warmed_up(stack, load)
            await asyncio.to_thread(TAKE_AWAY[how], servers)
            down_at = time.monotonic()
            await asyncio.sleep(OUTAGE)
            restart_at = time.monotonic()
            restart = asyncio.create_task(asyncio.to_thread(servers.restart, "kafka"))
            back_at = await port_open(servers.kafka_bootstrap)
            await recovered(load, progress, back_at, row)
            await restart
        await judge(stack, load, row)

    while_down = [a for a in load.answers if a.sent_at >= down_at and a.answered_at < restart_at]
    assert while_down, "no request was answered while Kafka was down"
    assert {a.status for a in while_down} == {503}, while_down
    assert all(a.retry_after is not None and int(a.retry_after) >= 1 for a in while_down)
    assert {a.status for a in load.answers} <= {200, 503}
