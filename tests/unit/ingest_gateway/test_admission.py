import asyncio
from datetime import UTC, datetime

import pytest

from contracts.lanes import Lane
from ingest_gateway.admission import Admitter, UsageUnknown, admission_of
from ingest_gateway.ratelimit import RateDecision, RefusedKeys

KEY = "usage-key"


def test_over_the_rate_limit_nothing_is_reserved() -> None:
    admission = admission_of([0, 1001, 4000, 0, 0, 0], 1000, KEY, 5, 10_000, 300)
    assert not admission.rate.allowed and admission.rate.reset_seconds == 4
    assert admission.reservation is None and admission.lane.lane is Lane.MAIN


def test_refused_by_the_quota_with_what_was_used() -> None:
    admission = admission_of([1, 7, 4000, 9_990, 0, 0], 1000, KEY, 20, 10_000, 300)
    assert admission.rate.allowed and admission.reservation is not None
    assert not admission.reservation.granted
    assert (admission.reservation.usage.used, admission.reservation.usage.remaining) == (9_990, 10)


def test_admitted_and_routed_by_the_lane_meter() -> None:
    hot = admission_of([2, 7, 4000, 120, 301, -2], 1000, KEY, 20, 10_000, 300)
    assert hot.reservation is not None and hot.reservation.granted
    assert (hot.lane.lane, hot.lane.entered) == (Lane.OVERFLOW, True)
    off = admission_of([2, 7, 4000, 120, 0, 0], 1000, KEY, 20, 10_000, 0)
    assert off.lane.lane is Lane.MAIN


def test_no_usage_state_is_unknown_not_zero() -> None:
    # Redis lost the hash (a flush): read as zero it would admit a whole month again.
    with pytest.raises(UsageUnknown):
        admission_of([-1, 0, 0, 0, 0, 0], 1000, KEY, 20, 10_000, 300)


def test_a_refused_key_stays_refused_until_its_window_ends() -> None:
    keys = RefusedKeys(size=2)
    keys.remember("k", RateDecision(False, 1000, 0, 3), now=100.0)
    standing = keys.refused("k", now=101.2)
    assert standing is not None and standing.headers()["Retry-After"] == "2"
    assert keys.refused("k", now=103.0) is None
    assert keys.refused("other", now=101.0) is None


def test_refused_keys_stay_bounded() -> None:
    keys = RefusedKeys(size=2)
    for n in range(5):
        keys.remember(f"k{n}", RateDecision(False, 1, 0, 60), now=float(n))
    assert keys.refused("k4", now=5.0) is not None
    assert sum(keys.refused(f"k{n}", now=5.0) is not None for n in range(5)) <= 2


class _Script:
    """The admission script's stand-in: records each round trip's keys, answers when told."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, keys: list[str], args: list[int]) -> list[int]:
        self.calls.append(keys)
        await self.release.wait()
        return [2, 1, 1000, 1, 0, 0] * (len(keys) // 4)


class _Redis:
    def __init__(self, script: _Script) -> None:
        self.script = script

    def register_script(self, text: str) -> _Script:
        return self.script


async def test_a_request_that_stopped_waiting_is_left_out_of_the_next_round_trip() -> None:
    script = _Script()
    admitter = Admitter(_Redis(script), "p:", 60, 0, 10)  # type: ignore[arg-type]
    now = datetime(2026, 12, 8, tzinfo=UTC)
    first = asyncio.create_task(admitter.admit("a", 10, "p1", 1, 100, now))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(admitter.admit(k, 10, "p1", 1, 100, now)) for k in "bcd"]
    await asyncio.sleep(0)
    assert len(script.calls) == 1  # the first is out; the others wait for the next
    waiting[1].cancel()  # its caller's timeout (fail open)
    script.release.set()
    assert (await first).rate.allowed
    assert all(a.rate.allowed for a in await asyncio.gather(waiting[0], waiting[2]))
    assert [call[0] for call in script.calls] == ["p:rate:a", "p:rate:b"]
    assert [len(call) for call in script.calls] == [4, 8]  # b and d together, c left out


async def test_a_sender_cancelled_before_it_ran_strands_no_request() -> None:
    script = _Script()
    script.release.set()
    admitter = Admitter(_Redis(script), "p:", 60, 0, 10)  # type: ignore[arg-type]
    now = datetime(2026, 12, 8, tzinfo=UTC)
    stranded = asyncio.create_task(admitter.admit("a", 10, "p1", 1, 100, now))
    await asyncio.sleep(0)  # it waits; its round trip's task is made, not yet run
    for task in asyncio.all_tasks():
        if task is not stranded and task is not asyncio.current_task():
            task.cancel()  # the loop closing cancels what runs in it
    with pytest.raises(asyncio.CancelledError):  # not left waiting for an answer (timeout)
        await asyncio.wait_for(stranded, 1)
    later = await asyncio.wait_for(admitter.admit("b", 10, "p1", 1, 100, now), 1)
    assert later.rate.allowed and script.calls == [["p:rate:b", *script.calls[0][1:]]]
