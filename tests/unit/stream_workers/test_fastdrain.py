"""The fast fetch loop delivers exactly as faust's own: once per record, waiting for room
when the stream buffer is full, given up when the flow is suspended."""

import asyncio
import inspect
import weakref
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from faust.transport import consumer as faust_consumer
from faust.types import TP
from mode import Service
from mode.utils.locks import Event

from stream_workers import fastdrain
from stream_workers.fastdrain import FastConsumer, Pending, WorkerApp, deliver, fast_drain_active


class Flow(Service):  # type: ignore[misc]
    """The two things ``deliver`` uses of a faust Consumer: wait_first and suspend_flow."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()


class Buffer:
    """A stream buffer like faust's channel queue: put waits while it is full."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.given_up: list[Any] = []

    async def put(self, message: Any) -> None:
        try:
            await self.queue.put(message)
        except BaseException:
            self.given_up.append(message)
            raise


def test_installed_faust_is_the_code_the_fast_loop_was_made_from() -> None:
    # Fails when faust-streaming changes its fetch loop: re-derive fastdrain from it.
    assert fastdrain.upstream_drain_digest() == fastdrain.UPSTREAM_DRAIN_SHA256
    assert fast_drain_active()
    assert FastConsumer._drain_messages is not fastdrain.base_consumer.Consumer._drain_messages


def test_worker_app_builds_its_consumer_from_the_fast_transport() -> None:
    app = WorkerApp("fastdrain-test", broker="kafka://127.0.0.1:9", store="memory://")
    assert isinstance(app.transport, fastdrain.FastTransport)
    assert app.transport.Consumer is FastConsumer


def test_without_faust_s_sources_its_own_loop_runs_instead_of_a_crash(monkeypatch) -> None:
    """An install with bytecode only (no .py files): inspect.getsource raises OSError."""

    def no_source(_: object) -> str:
        raise OSError("could not get source code")

    monkeypatch.setattr(fastdrain.inspect, "getsource", no_source)
    assert fastdrain.upstream_drain_digest() is None
    assert fastdrain._fast_drain() is None


def test_fast_drain_off_builds_faust_s_own_consumer_and_delivers_to_the_stream() -> None:
    app = WorkerApp(
        "fastdrain-off", broker="kafka://127.0.0.1:9", store="memory://", fast_drain=False
    )
    assert not isinstance(app.transport, fastdrain.FastTransport)
    assert app.transport.Consumer is fastdrain.aiokafka_driver.Consumer
    assert app.deliver_directly("events", Buffer(1).put) is False
    assert app.direct_handlers == {}


async def test_a_record_with_room_is_delivered_inline_once() -> None:
    flow, buffer = Flow(), Buffer(10)
    tasks_before = len(asyncio.all_tasks())
    for n in range(5):
        await deliver(flow, buffer.put, n)
    assert [buffer.queue.get_nowait() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert len(asyncio.all_tasks()) == tasks_before


async def test_a_full_buffer_is_waited_for_then_the_record_delivered_once() -> None:
    flow, buffer = Flow(), Buffer(1)
    await deliver(flow, buffer.put, "first")
    second = asyncio.ensure_future(deliver(flow, buffer.put, "second"))
    await asyncio.sleep(0.01)
    assert not second.done()  # waiting for room
    assert buffer.queue.get_nowait() == "first"
    await asyncio.wait_for(second, 1)
    assert buffer.queue.get_nowait() == "second"
    assert buffer.queue.empty() and buffer.given_up == []


async def test_a_wait_for_room_is_given_up_when_the_flow_is_suspended() -> None:
    flow, buffer = Flow(), Buffer(1)
    await deliver(flow, buffer.put, "first")
    second = asyncio.ensure_future(deliver(flow, buffer.put, "second"))
    await asyncio.sleep(0.01)
    flow.suspend_flow.set()  # a rebalance: faust gives up the blocked delivery
    await asyncio.wait_for(second, 1)
    assert buffer.given_up == ["second"]
    assert buffer.queue.get_nowait() == "first"
    await asyncio.sleep(0.01)
    assert buffer.queue.empty()


async def test_a_callback_error_reaches_the_fetch_loop() -> None:
    async def broken(message: Any) -> None:
        raise ValueError(message)

    with pytest.raises(ValueError, match="bad"):
        await deliver(Flow(), broken, "bad")


async def test_a_callback_error_after_waiting_reaches_the_fetch_loop() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def broken_later(message: Any) -> None:
        await gate
        raise ValueError(message)

    flow = Flow()
    delivery = asyncio.ensure_future(deliver(flow, broken_later, "late"))
    await asyncio.sleep(0.01)
    gate.set_result(None)
    with pytest.raises(ValueError, match="late"):
        await asyncio.wait_for(delivery, 1)


class Message:
    def __init__(self, topic: str, offset: int) -> None:
        self.topic, self.offset = topic, offset
        self.tp = TP(topic, 3)


class Consumer(Flow):
    """What ``FastConsumer._deliver`` uses of itself: the app's handlers, message tracking."""

    def __init__(self, app: WorkerApp) -> None:
        super().__init__()
        self.app = app
        self.tracked: list[Message] = []

    def track_message(self, message: Message) -> None:
        self.tracked.append(message)


async def test_a_directly_delivered_topic_skips_the_stream_and_is_tracked_for_acks() -> None:
    app = WorkerApp("fastdrain-direct", broker="kafka://127.0.0.1:9", store="memory://")
    direct, streamed = Buffer(10), Buffer(10)

    async def take(pending: Pending, message: Any) -> None:
        await direct.put((pending, message))

    assert app.deliver_directly("events", take)
    consumer = Consumer(app)
    records = [Message("events", 0), Message("other", 0), Message("events", 1)]
    for message in records:
        await FastConsumer._deliver(consumer, streamed.put, message)  # type: ignore[arg-type]
    delivered = [direct.queue.get_nowait() for _ in range(2)]
    assert [message for _, message in delivered] == [records[0], records[2]]
    assert streamed.queue.get_nowait() is records[1] and streamed.queue.empty()
    # Tracked as faust's conductor tracks what it delivers (a revocation waits for its ack),
    # by a stand-in holding only what faust's ack reads: the message is not kept.
    pendings = [pending for pending, _ in delivered]
    assert consumer.tracked == pendings
    assert [(p.topic, p.tp, p.offset, p.partition, p.acked) for p in pendings] == [
        ("events", TP("events", 3), 0, 3, False),
        ("events", TP("events", 3), 1, 3, False),
    ]
    assert not hasattr(pendings[0], "value")


def test_faust_acknowledges_a_pending_as_it_does_a_message() -> None:
    # faust's own Consumer.ack, on the bookkeeping it keeps: the offset is acked for the
    # commit and the record leaves the set a revocation waits on.
    tp = TP("events", 3)
    pending = Pending(Message("events", 41))
    state = SimpleNamespace(
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)),
        _committed_offset=defaultdict(lambda: None),
        _acked_index=defaultdict(set),
        _acked=defaultdict(list),
        _n_acked=0,
        _unacked_messages=weakref.WeakSet([pending]),
        _waiting_for_ack=None,
    )
    assert faust_consumer.Consumer.ack(state, pending) is True  # type: ignore[arg-type]
    assert pending.acked and state._acked[tp] == [41] and state._n_acked == 1
    assert not state._unacked_messages
    assert faust_consumer.Consumer.ack(state, pending) is False  # once only


async def test_a_fetch_brings_at_most_the_workers_cap_over_all_partitions() -> None:
    app = WorkerApp(
        "fastdrain-fetch", broker="kafka://127.0.0.1:9", store="memory://", fetch_max_bytes=1234
    )
    thread = app.consumer._thread  # type: ignore[attr-defined]
    kafka_consumer = thread._create_worker_consumer(app.transport)
    try:
        assert kafka_consumer._fetch_max_bytes == 1234
    finally:
        await kafka_consumer.stop()
        thread.thread_loop.close()  # never started: its loop is closed here
    # The attribute is what aiokafka's own fetch_max_bytes sets, and its fetcher reads.
    assert "fetch_max_bytes=self._fetch_max_bytes" in inspect.getsource(AIOKafkaConsumer.start)
