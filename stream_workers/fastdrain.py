"""A Faust consumer whose fetch loop hands records to the streams without a task each.

faust-streaming's ``Consumer._drain_messages`` delivers every record with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: four tasks and an
``asyncio.wait`` per record, so that a delivery blocked on a full stream buffer is given
up when the flow is suspended (a rebalance) or the worker stops. Profiled, that is ~50 µs
of a record's ~85 µs of Faust CPU on this machine, capping a worker near 12k records/s.

``deliver`` keeps those semantics and drops the cost: it runs the callback's first step
inline, which finishes at once whenever the stream buffer has room (almost always); only
a callback that really waits is raced against suspend/stop/crash as Faust does. The
fetch loop itself is faust's own, with only that line changed; ``UPSTREAM_DRAIN_SHA256``
pins the faust code it was copied from, and a unit test fails when faust changes it.

Direct delivery: a topic registered with ``WorkerApp.deliver_directly`` has its records
handed by the fetch loop straight to a handler, tracked as pending acks exactly as
faust's conductor tracks what it delivers, instead of through the conductor, a topic
channel queue, a stream and an ``Event`` per record (profiled: ~15 µs of a record's
~25 µs of faust CPU here). What is tracked is a ``Pending`` stand-in for the message: its
position only, so that a batch waiting for its acks does not keep every message's key,
value and headers (~0.6 kB a record, two batches of up to 100k held). The handler
acknowledges each with ``Consumer.ack`` — faust's own commit bookkeeping, so the group's
committed offsets advance exactly as for a stream — and faust still owns the group, the
assignment, the fetcher, commits and rebalances (a revocation waits for tracked records
to be acked).
"""

import asyncio
import functools
import hashlib
import inspect
import logging
import textwrap
from collections.abc import Callable, Coroutine
from typing import Any, cast

import faust
from faust.transport import consumer as base_consumer
from faust.transport.drivers import aiokafka as aiokafka_driver

logger = logging.getLogger(__name__)

UPSTREAM_DRAIN_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"

_UPSTREAM_CALL = """await self.wait_first(
                                callback(message), self.suspend_flow.wait()
                            )"""
_OUR_CALL = "await self._deliver(callback, message)"


def upstream_drain_digest() -> str | None:
    """The digest of faust's installed fetch loop; None when its source cannot be read (an
    install with bytecode only), which runs faust's own loop."""
    try:
        source = inspect.getsource(base_consumer.Consumer._drain_messages)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()


async def resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> Any:
    """Drive ``coro`` on from a step that yielded ``waiting`` (a future, or None for a bare
    yield), as a task would; closing it if this is cancelled."""
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                waiting._asyncio_future_blocking = False
                await asyncio.wait([waiting])
            waiting = coro.send(None)
    except StopIteration as stop:
        return stop.value
    except BaseException:
        coro.close()
        raise


Callback = Callable[[Any], Coroutine[Any, Any, Any]]
# A direct handler gets the record's Pending (to acknowledge) and the message (to read).
Handler = Callable[["Pending", Any], Coroutine[Any, Any, Any]]


class Pending:
    """A delivered record as faust's ``Consumer.ack`` and its wait for pending acks read a
    message (``topic``, ``tp``, ``offset``, ``acked``; ``refcount`` in a log line): the
    message itself is not kept once its handler has read it."""

    __slots__ = ("__weakref__", "acked", "offset", "refcount", "topic", "tp")

    def __init__(self, message: Any) -> None:
        self.topic: str = message.topic
        self.tp: Any = message.tp
        self.offset: int = message.offset
        self.acked = False
        self.refcount = 0

    @property
    def partition(self) -> int:
        return int(self.tp.partition)


def _fast_drain() -> Callable[..., Any] | None:
    """Faust's fetch loop with the per-record ``wait_first`` replaced by ``_deliver``, or
    None when the installed faust is not the code this was written against."""
    if upstream_drain_digest() != UPSTREAM_DRAIN_SHA256:
        return None
    source = inspect.getsource(base_consumer.Consumer._drain_messages)
    assert source.count(_UPSTREAM_CALL) == 1
    namespace: dict[str, Any] = {}
    # Compiled in faust's own module namespace, so every name it uses resolves as there.
    exec(textwrap.dedent(source.replace(_UPSTREAM_CALL, _OUR_CALL)), vars(base_consumer), namespace)  # noqa: S102 - faust's own source, pinned by its digest
    drain: Callable[..., Any] = namespace["_drain_messages"]
    return drain


async def deliver(service: Any, callback: Callback, message: Any) -> None:
    """``await service.wait_first(callback(message), service.suspend_flow.wait())``, with
    no task unless the callback has to wait."""
    coro = callback(message)
    try:
        waiting = coro.send(None)
    except StopIteration:
        return  # delivered without waiting: the common case
    except BaseException:
        coro.close()
        raise
    # The stream buffer is full: wait for room, given up on suspend/stop/crash.
    await service.wait_first(resume(coro, waiting), service.suspend_flow.wait())


_DRAIN = _fast_drain()


class BoundedConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer with a cap on the bytes of one fetch over all partitions
    (aiokafka's ``fetch_max_bytes``, which faust leaves at its 50 MB default): a response is
    read, decoded and unpacked into records whole, three copies of it held at once, which
    was the worker's biggest use of memory (a third of its peak, under memray)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        limit = cast("WorkerApp", self.app).fetch_max_bytes
        if limit is not None:
            # What AIOKafkaConsumer(fetch_max_bytes=...) sets; read when it starts its fetcher.
            consumer._fetch_max_bytes = limit
        return consumer


class FastConsumer(aiokafka_driver.Consumer):
    if _DRAIN is not None:
        _drain_messages = _DRAIN

    def _new_consumer_thread(self) -> BoundedConsumerThread:
        return BoundedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _deliver(self, callback: Callback, message: Any) -> None:
        handler = cast("WorkerApp", self.app).direct_handlers.get(message.topic)
        if handler is not None:
            pending = Pending(message)
            # As the conductor does before a stream gets it; Pending reads as a message.
            self.track_message(cast(Any, pending))
            callback = functools.partial(handler, pending)
        await deliver(self, callback, message)


class FastTransport(aiokafka_driver.Transport):
    Consumer = FastConsumer


def fast_drain_active() -> bool:
    return _DRAIN is not None


class WorkerApp(faust.App):
    """A faust.App whose consumer is the FastConsumer (``fast_drain=False``, or a faust
    whose fetch loop changed or cannot be read: faust's own consumer)."""

    def __init__(
        self,
        *args: Any,
        fast_drain: bool = True,
        fetch_max_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fast = fast_drain and _DRAIN is not None
        self.fetch_max_bytes = fetch_max_bytes  # None: aiokafka's default (with fast drain)
        self.direct_handlers: dict[str, Handler] = {}

    def deliver_directly(self, topic: str, handler: Handler) -> bool:
        """Hand ``topic``'s records to ``handler`` from the fetch loop (see the module
        docstring); False, with nothing registered, when faust's own fetch loop runs (then
        the topic's agent stream gets them). Register before the worker starts: a record
        delivered to a stream nobody reads would never be acknowledged."""
        if not self.fast:
            return False
        self.direct_handlers[topic] = handler
        return True

    def _new_transport(self) -> Any:
        if self.fast:
            return FastTransport(self.conf.broker_consumer, self)
        if _DRAIN is None:
            logger.warning("faust changed: records are delivered by faust's own fetch loop")
        else:
            logger.info("fast drain off: records are delivered by faust's own fetch loop")
        return aiokafka_driver.Transport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        # The Monitor sensor keeps per-record statistics for faust's own web views, which
        # the worker does not serve (its /metrics are its own): ~3 µs a record saved.
        self.sensors.remove(self.monitor)
        return dependencies


class RawBytes(faust.Schema):  # type: ignore[type-arg]
    """Keys and values as the bytes on the topic, without faust's codec registry lookups
    (the sink decodes values itself; keys are not read)."""

    def loads_key(self, app: Any, message: Any, **_: Any) -> Any:
        return message.key

    def loads_value(self, app: Any, message: Any, **_: Any) -> Any:
        return message.value
