"""Batches are cut by size and by time, written one at a time, and acknowledged only
after they were applied."""

import asyncio
from collections.abc import Sequence

import pytest

from stream_workers.batcher import Batcher, linger_left


class Sink:
    def __init__(self, gate: asyncio.Event | None = None, fail: bool = False) -> None:
        self.applied: list[list[int]] = []
        self.acked: list[str] = []
        self.log: list[str] = []
        self.gate = gate
        self.fail = fail

    async def apply(self, items: Sequence[int]) -> None:
        self.log.append(f"apply {list(items)}")
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database gone")
        self.applied.append(list(items))

    async def ack(self, acks: Sequence[str]) -> None:
        self.log.append(f"ack {list(acks)}")
        self.acked.extend(acks)


async def until(condition, seconds: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_linger_counts_from_the_first_event_of_the_batch() -> None:
    assert linger_left(None, 100.0, 0.5) == 0.5
    assert linger_left(100.0, 100.2, 0.5) == pytest.approx(0.3)
    assert linger_left(100.0, 101.0, 0.5) == 0.0


async def test_a_full_batch_is_written_at_once_and_acked_after_it_applied() -> None:
    sink = Sink()
    batcher: Batcher[int, str] = Batcher(sink.apply, sink.ack, max_size=3, linger=60)
    batcher.start()
    for n in range(3):
        await batcher.add(n, f"e{n}")
    await until(lambda: len(sink.acked) == 3)
    assert sink.log == ["apply [0, 1, 2]", "ack ['e0', 'e1', 'e2']"]
    await batcher.stop()


async def test_a_partial_batch_is_written_after_the_linger() -> None:
    sink = Sink()
    batcher: Batcher[int, str] = Batcher(sink.apply, sink.ack, max_size=100, linger=0.05)
    batcher.start()
    await batcher.add(1, "e1")
    await asyncio.sleep(0.01)
    assert sink.applied == []
    await until(lambda: sink.acked == ["e1"])
    await batcher.stop()


async def test_the_next_batch_gathers_while_one_is_written_then_adding_waits() -> None:
    gate = asyncio.Event()
    sink = Sink(gate)
    batcher: Batcher[int, str] = Batcher(sink.apply, sink.ack, max_size=2, linger=0)
    batcher.start()
    await batcher.add(1, "e1")
    await until(lambda: sink.log == ["apply [1]"])  # being written, not acked
    await batcher.add(2, "e2")
    await batcher.add(3, "e3")  # the next batch gathered during the write, now full
    blocked = asyncio.ensure_future(batcher.add(4, "e4"))
    await asyncio.sleep(0.02)
    assert not blocked.done() and sink.acked == []
    gate.set()
    await asyncio.wait_for(blocked, 1)
    await until(lambda: len(sink.acked) == 4)
    assert sink.applied == [[1], [2, 3], [4]]
    assert sink.acked == ["e1", "e2", "e3", "e4"]
    await batcher.stop()


async def test_a_batch_stopped_while_being_written_is_never_acked() -> None:
    sink = Sink(asyncio.Event())  # the write never finishes
    batcher: Batcher[int, str] = Batcher(sink.apply, sink.ack, max_size=1, linger=0)
    batcher.start()
    await batcher.add(1, "e1")
    await until(lambda: sink.log == ["apply [1]"])
    await batcher.stop()
    assert sink.acked == []


async def test_a_sink_task_error_stops_the_agent_at_its_next_event() -> None:
    sink = Sink(fail=True)
    batcher: Batcher[int, str] = Batcher(sink.apply, sink.ack, max_size=1, linger=0)
    batcher.start()
    await batcher.add(1, "e1")
    await asyncio.sleep(0.02)
    with pytest.raises(RuntimeError, match="database gone"):
        await batcher.add(2, "e2")
    assert sink.acked == []
    await batcher.stop()


async def test_a_sink_task_error_wakes_an_agent_waiting_for_room() -> None:
    gate = asyncio.Event()
    sink = Sink(gate, fail=True)
    batcher: Batcher[int, str] = Batcher(sink.apply, sink.ack, max_size=1, linger=0)
    batcher.start()
    await batcher.add(1, "e1")
    await until(lambda: sink.log == ["apply [1]"])
    await batcher.add(2, "e2")
    blocked = asyncio.ensure_future(batcher.add(3, "e3"))
    await asyncio.sleep(0.01)
    gate.set()  # the write fails
    with pytest.raises(RuntimeError, match="database gone"):
        await asyncio.wait_for(blocked, 1)
    await batcher.stop()


async def test_a_slow_ack_lets_the_next_batch_be_written_but_acks_stay_in_order() -> None:
    sink, ack_gate = Sink(), asyncio.Event()

    async def slow_ack(acks: Sequence[str]) -> None:
        sink.log.append(f"ack {list(acks)} started")
        if acks == ["e1"]:
            await ack_gate.wait()
        await sink.ack(acks)

    batcher: Batcher[int, str] = Batcher(sink.apply, slow_ack, max_size=1, linger=0)
    batcher.start()
    await batcher.add(1, "e1")
    await batcher.add(2, "e2")
    await until(lambda: sink.applied == [[1], [2]])  # written while batch 1's ack waits
    await asyncio.sleep(0.02)
    assert sink.acked == []  # batch 2 is not acked before batch 1
    ack_gate.set()
    await until(lambda: sink.acked == ["e1", "e2"])
    await batcher.stop()
