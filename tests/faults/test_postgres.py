"""PostgreSQL stopped under a steady load and started again: the workers hold and retry
(nothing applied, nothing lost), the query API and the control plane answer 503
DATABASE_UNAVAILABLE with Retry-After meanwhile, never a 500, and everything recovers by
itself; every event answered 200 is counted exactly once."""

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.faults.fault import outage_seconds, port_open, recovered, warmed_up
from tests.faults.judgement import Verdict, judge, watching
from tests.faults.load import Load, running
from tests.faults.probes import probing
from tests.faults.servers import Servers
from tests.faults.stack import running_stack

pytestmark = pytest.mark.faults

OUTAGE = outage_seconds(10, 30)
# The gateway caches project keys this long: shorter than the outage, so that it needs
# PostgreSQL meanwhile, as it does for any key it has not seen lately.
KEY_CACHE_SECONDS = 2
# A request is refused within this while PostgreSQL is down (not after the pool's 30 s;
# 1.5 s on an idle machine) and answered 200 again within this of its return (not after
# the pool's backoff: 4.7-9.2 s before the gateway used common/database.py).
REFUSED_WITHIN = 5.0
RECOVERED_WITHIN = 3.0


async def test_postgres_stopped_and_started(
    servers: Servers, tmp_path, verdict: Callable[[str], Verdict]
) -> None:
    row = verdict(f"PostgreSQL stopped, {OUTAGE:.0f} s")
    async with (
        running_stack(
            servers, tmp_path, gateway_settings={"RA_KEY_CACHE_TTL_SECONDS": str(KEY_CACHE_SECONDS)}
        ) as stack,
        watching(stack) as progress,
        probing(stack) as probes,
    ):
        load = Load(f"{stack.gateway_url}/", stack.project.public_key)
        async with running(load):
            await warmed_up(stack, load)
            await asyncio.to_thread(servers.stop, "postgres")
            down_at = time.monotonic()
            await asyncio.sleep(OUTAGE)
            restart_at = time.monotonic()
            restart = asyncio.create_task(asyncio.to_thread(servers.restart, "postgres"))
            back_at = await port_open(servers.postgres_address)
            await recovered(load, progress, back_at, row)
            await restart
        readers_back = probes.first_200_sent_after(back_at)
        for p in probes.answers:
            row.record_5xx(p.status, p.code, p.kind)
        await judge(stack, load, row)

    while_down = probes.between(down_at + 1, restart_at)
    assert while_down, "no reader was answered while PostgreSQL was down"
    assert {(p.status, p.code) for p in while_down} == {(503, "DATABASE_UNAVAILABLE")}, while_down
    assert all(p.retry_after is not None and int(p.retry_after) >= 1 for p in while_down)
    assert {p.status for p in probes.answers} <= {200, 503}
    assert readers_back is not None and readers_back - back_at < 10, readers_back
    sent_down = [a for a in load.answers if down_at <= a.sent_at < restart_at]
    slowest = max(a.answered_at - a.sent_at for a in sent_down)
    assert slowest < REFUSED_WITHIN, f"a request sent while it was down took {slowest:.1f} s"
    assert 503 in {a.status for a in sent_down}, "uncached keys need the database"
    assert row.ingest_recovery is not None and row.ingest_recovery < RECOVERED_WITHIN, (
        f"ingest answered 200 again {row.ingest_recovery:.1f} s after PostgreSQL's return"
    )
    print(f"\nreaders answered 200 again {readers_back - back_at:.1f} s after PostgreSQL's return")
