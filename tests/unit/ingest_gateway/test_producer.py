"""The appender replaces a producer that gave up on a record, once, and answers 503 meanwhile.

A stand-in producer plays aiokafka's part (unit tests; the real broker's part is
tests/integration/ingest_gateway/test_kafka_restart.py)."""

import asyncio
from collections.abc import Callable

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownTopicOrPartitionError,
)

from ingest_gateway.producer import (
    AppendFailed,
    EventAppender,
    delivery_breaks_producer,
    send_error_breaks_producer,
)

RECORD = (b"key", b"value")


@pytest.mark.parametrize(
    ("error", "breaks"),
    [
        (OutOfOrderSequenceNumber(), True),
        (ProducerFenced(), True),
        (KafkaError("Unexpected error during batch delivery"), True),  # the sender died
        (KafkaTimeoutError(), False),  # buffer full or metadata slow: this request only
        (UnknownTopicOrPartitionError(), False),
        (ProducerClosed(), False),  # raced a replacement that already closed it
        (ValueError("not from kafka"), False),
    ],
)
def test_which_send_errors_break_the_producer(error: BaseException, breaks: bool) -> None:
    assert send_error_breaks_producer(error) is breaks


async def test_any_failed_delivery_breaks_the_producer() -> None:
    loop = asyncio.get_running_loop()
    acked, expired, refused, cancelled = (loop.create_future() for _ in range(4))
    acked.set_result(None)
    expired.set_exception(LeaderNotAvailableError())  # gave up while no leader: a hole
    refused.set_exception(OutOfOrderSequenceNumber())
    cancelled.cancel()
    assert [delivery_breaks_producer(f) for f in (acked, expired, refused, cancelled)] == [
        False,
        True,
        True,
        False,
    ]


class FakeProducer:
    """Hands out delivery futures the test settles; can refuse to start or to send."""

    def __init__(self, start_error: Exception | None = None) -> None:
        self.start_error = start_error
        self.send_error: Exception | None = None
        self.acks: list[asyncio.Future[object]] = []
        self.stopped = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: object = None
    ) -> asyncio.Future[object]:
        if self.send_error is not None:
            raise self.send_error
        ack: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


class Appender(EventAppender):
    """An EventAppender whose producers are the test's, made in order."""

    def __init__(self, producers: list[FakeProducer], timeout: float = 0.2) -> None:
        super().__init__("127.0.0.1:1", "events", timeout, 5)
        self.made: list[FakeProducer] = []
        self._next = iter(producers)

    def _new_producer(self) -> FakeProducer:
        producer = next(self._next)
        self.made.append(producer)
        return producer


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def settle_when_sent(
    producer: FakeProducer, outcome: BaseException | None, records: int = 1
) -> None:
    """Once ``records`` records are sent, acknowledge them all (or fail them with ``outcome``)."""
    await until(lambda: len(producer.acks) >= records)
    for ack in producer.acks:
        if outcome is None:
            ack.set_result(None)
        else:
            ack.set_exception(outcome)


async def test_an_acknowledged_append_keeps_the_producer() -> None:
    first = FakeProducer()
    appender = Appender([first])
    await appender.start()
    settle = asyncio.create_task(settle_when_sent(first, None))
    await appender.append([RECORD, RECORD])
    await settle
    assert appender.made == [first] and not first.stopped
    await appender.stop()


async def test_out_of_order_sequence_answers_503_then_a_new_producer_takes_over() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second])
    await appender.start()
    settle = asyncio.create_task(settle_when_sent(first, OutOfOrderSequenceNumber()))
    with pytest.raises(AppendFailed, match="OutOfOrderSequenceNumber"):
        await appender.append([RECORD])
    await settle
    await until(lambda: first.stopped and len(appender.made) == 2)
    settle = asyncio.create_task(settle_when_sent(second, None))
    await appender.append([RECORD])  # the new producer acknowledges: a 200 again
    await settle
    await appender.stop()
    assert second.stopped


async def test_many_failures_of_one_producer_replace_it_once() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second])
    await appender.start()
    settle = asyncio.create_task(settle_when_sent(first, OutOfOrderSequenceNumber(), 10))
    results = await asyncio.gather(
        *(appender.append([RECORD, RECORD]) for _ in range(5)), return_exceptions=True
    )
    await settle
    assert all(isinstance(r, AppendFailed) for r in results)
    await until(lambda: len(appender.made) == 2)
    await asyncio.sleep(0.05)
    assert appender.made == [first, second]
    await appender.stop()


async def test_a_record_given_up_after_its_request_timed_out_still_replaces_the_producer() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second], timeout=0.05)
    await appender.start()
    with pytest.raises(AppendFailed, match="not acknowledged in time"):
        await appender.append([RECORD])
    assert appender.made == [first]  # a slow broker alone is no reason
    first.acks[0].set_exception(LeaderNotAvailableError())  # expired later: a hole
    await until(lambda: len(appender.made) == 2)
    await appender.stop()


async def test_while_the_new_producer_cannot_connect_appends_fail_fast() -> None:
    first = FakeProducer()
    unreachable = FakeProducer(start_error=KafkaConnectionError())
    appender = Appender([first, unreachable, FakeProducer()])
    await appender.start()
    first.send_error = KafkaError("Unexpected error during batch delivery")
    with pytest.raises(AppendFailed):
        await appender.append([RECORD])
    await until(lambda: len(appender.made) >= 2)
    with pytest.raises(AppendFailed, match="not connected"):
        await appender.append([RECORD])
    await appender.stop()


async def test_a_request_error_from_send_keeps_the_producer() -> None:
    first = FakeProducer()
    appender = Appender([first])
    await appender.start()
    first.send_error = UnknownTopicOrPartitionError()
    with pytest.raises(AppendFailed):
        await appender.append([RECORD])
    await asyncio.sleep(0.05)
    assert appender.made == [first] and not first.stopped
    await appender.stop()
