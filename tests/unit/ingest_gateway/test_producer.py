"""The appender answers 200 only for acknowledged records, 503 otherwise; fails fast while
Kafka is unreachable; replaces a producer that hit a fatal error, once, and answers 503
meanwhile.

A stand-in producer plays librdkafka's part (its delivery reports and error callback are
called by the test); the real broker's part is tests/integration/ingest_gateway/
test_kafka_restart.py, test_kafka_outage.py and test_producer.py."""

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from contracts.events import REQUEST_ID_HEADER
from ingest_gateway.kafka_client import (
    ErrorHandler,
    RequestDelivery,
    error_is_fatal,
    error_means_unreachable,
    producer_config,
    topic_ready,
)
from ingest_gateway.partitioner import partition_for
from ingest_gateway.producer import AppendFailed, EventAppender

RECORD = (b"key", b"value")
OUT_OF_ORDER = KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "seq", fatal=True)
ALL_DOWN = KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down")
TIMED_OUT = KafkaError(KafkaError._MSG_TIMED_OUT)
PURGED = KafkaError(KafkaError._PURGE_QUEUE)


class FakeProducer:
    """Queues records with their delivery callbacks; the test reports their outcome."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable = reachable
        self.produce_error: BaseException | None = None
        self.sent: list[tuple[str, bytes, bytes, object]] = []
        self.callbacks: list[RequestDelivery] = []
        self.closed = False
        self.on_error: ErrorHandler | None = None

    def produce(
        self, topic: str, value: bytes, key: bytes, *, on_delivery: RequestDelivery, headers: Any
    ) -> None:
        if self.produce_error is not None:
            raise self.produce_error
        self.sent.append((topic, key, value, headers))
        self.callbacks.append(on_delivery)

    def topic_ready(self, topic: str, timeout: float) -> bool:
        return self.reachable and not self.closed

    def close(self, timeout: float) -> int:
        self.closed = True
        return 0

    def report(self, error: KafkaError | None = None) -> None:
        """Every record queued so far delivered (or failed with ``error``)."""
        callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            callback(error, None)  # type: ignore[arg-type]

    def error(self, error: KafkaError) -> None:
        assert self.on_error is not None
        self.on_error(error)


class Appender(EventAppender):
    """An EventAppender whose producers are the test's, made in order."""

    def __init__(self, producers: list[FakeProducer], timeout: float = 0.5) -> None:
        self.replaced: list[str] = []
        super().__init__("127.0.0.1:1", "events", timeout, 5, on_replace=self.replaced.append)
        self.made: list[FakeProducer] = []
        self._next = iter(producers)

    def _new_producer(self, on_error: ErrorHandler) -> FakeProducer:  # type: ignore[override]
        producer = next(self._next)
        producer.on_error = on_error
        self.made.append(producer)
        return producer


async def until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def report_when_sent(
    producer: FakeProducer, error: KafkaError | None, records: int = 1
) -> None:
    await until(lambda: len(producer.callbacks) >= records)
    producer.report(error)


async def test_an_acknowledged_append_keeps_the_producer() -> None:
    first = FakeProducer()
    appender = Appender([first])
    await appender.start()
    report = asyncio.create_task(report_when_sent(first, None, 2))
    await appender.append([RECORD, RECORD], request_id="req-1")
    await report
    assert appender.made == [first] and not first.closed
    assert [headers for *_, headers in first.sent] == [[(REQUEST_ID_HEADER, b"req-1")]] * 2
    await appender.stop()
    assert first.closed


async def test_no_200_until_the_last_record_is_acknowledged() -> None:
    first = FakeProducer()
    appender = Appender([first])
    await appender.start()
    append = asyncio.create_task(appender.append([RECORD, RECORD, RECORD]))
    await until(lambda: len(first.callbacks) == 3)
    first.callbacks[0](None, None)  # type: ignore[arg-type]
    first.callbacks[1](None, None)  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not append.done()
    first.callbacks[2](None, None)  # type: ignore[arg-type]
    await append
    await appender.stop()


async def test_a_record_not_acknowledged_in_time_answers_503_and_keeps_the_producer() -> None:
    first = FakeProducer()
    appender = Appender([first], timeout=0.05)
    await appender.start()
    with pytest.raises(AppendFailed, match="not acknowledged in time"):
        await appender.append([RECORD])
    first.report(TIMED_OUT)  # librdkafka expires it later and bumps its epoch past it
    with pytest.raises(AppendFailed, match="_MSG_TIMED_OUT"):
        task = asyncio.create_task(appender.append([RECORD]))
        await until(lambda: len(first.callbacks) == 1)
        first.report(TIMED_OUT)
        await task
    await asyncio.sleep(0.05)
    assert appender.made == [first] and appender.replaced == []
    await appender.stop()


async def test_a_fatal_error_answers_503_then_a_new_producer_takes_over() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second])
    await appender.start()
    append = asyncio.create_task(appender.append([RECORD]))
    await until(lambda: len(first.callbacks) == 1)
    first.error(OUT_OF_ORDER)  # librdkafka's error callback, then its purge of the queue
    first.report(PURGED)
    with pytest.raises(AppendFailed, match="_PURGE_QUEUE"):
        await append
    await until(lambda: first.closed and len(appender.made) == 2)
    assert appender.replaced == ["OUT_OF_ORDER_SEQUENCE_NUMBER"]
    report = asyncio.create_task(report_when_sent(second, None))
    await until_appends(appender)
    await report
    await appender.stop()
    assert second.closed


async def until_appends(appender: Appender) -> None:
    """Retries an append until the new producer is connected (it fails fast before)."""
    for _ in range(300):
        try:
            await appender.append([RECORD])
            return
        except AppendFailed as exc:
            assert "not connected" in str(exc)
            await asyncio.sleep(0.01)
    raise AssertionError("the new producer never took over")


async def test_many_requests_seeing_a_fatal_error_replace_the_producer_once() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second])
    await appender.start()
    appends = [asyncio.create_task(appender.append([RECORD, RECORD])) for _ in range(5)]
    await until(lambda: len(first.callbacks) == 10)
    first.error(OUT_OF_ORDER)
    first.error(OUT_OF_ORDER)  # reported again, and raised by a produce() meanwhile
    first.produce_error = KafkaException(OUT_OF_ORDER)
    first.report(PURGED)
    results = await asyncio.gather(*appends, return_exceptions=True)
    assert all(isinstance(r, AppendFailed) for r in results)
    await until(lambda: len(appender.made) == 2)
    await asyncio.sleep(0.05)
    assert appender.made == [first, second] and appender.replaced == [
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    ]
    await appender.stop()


async def test_a_fatal_error_raised_by_produce_replaces_the_producer() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second])
    await appender.start()
    first.produce_error = KafkaException(OUT_OF_ORDER)
    with pytest.raises(AppendFailed, match="OUT_OF_ORDER_SEQUENCE_NUMBER"):
        await appender.append([RECORD])
    await until(lambda: len(appender.made) == 2 and first.closed)
    await appender.stop()


async def test_while_the_new_producer_cannot_connect_appends_fail_fast() -> None:
    first, unreachable = FakeProducer(), FakeProducer(reachable=False)
    appender = Appender([first, unreachable])
    await appender.start()
    first.error(OUT_OF_ORDER)
    await until(lambda: len(appender.made) == 2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(AppendFailed, match="not connected"):
        await appender.append([RECORD])
    assert asyncio.get_running_loop().time() - started < 0.05
    assert unreachable.sent == []
    await appender.stop()


async def test_while_no_broker_is_up_appends_fail_fast_until_the_topic_is_led_again() -> None:
    first = FakeProducer()
    appender = Appender([first])
    await appender.start()
    first.reachable = False
    first.error(ALL_DOWN)
    await asyncio.sleep(0.01)  # the error callback reaches the loop
    with pytest.raises(AppendFailed, match="not connected"):
        await appender.append([RECORD])
    assert first.sent == [] and not await appender.ready()
    first.reachable = True  # the broker is back: the next probe sees it (within ~0.5 s)
    report = asyncio.create_task(report_when_sent(first, None))
    await until_appends(appender)
    await report
    assert appender.made == [first] and appender.replaced == []
    await appender.stop()


async def test_a_broker_unreachable_at_start_does_not_block_start_for_longer_than_asked() -> None:
    unreachable = FakeProducer(reachable=False)
    appender = Appender([unreachable])
    started = asyncio.get_running_loop().time()
    await appender.start(wait_seconds=0.2)
    assert asyncio.get_running_loop().time() - started < 1.0
    with pytest.raises(AppendFailed, match="not connected"):
        await appender.append([RECORD])
    unreachable.reachable = True
    await until(lambda: unreachable.sent == [] and appender._connected)
    await appender.stop()


@pytest.mark.parametrize(
    ("error", "match"),
    [
        (BufferError("Local: Queue full"), "producer queue full"),
        (KafkaException(KafkaError(KafkaError._UNKNOWN_TOPIC)), "_UNKNOWN_TOPIC"),
    ],
)
async def test_a_request_error_from_produce_answers_503_and_keeps_the_producer(
    error: BaseException, match: str
) -> None:
    first = FakeProducer()
    appender = Appender([first])
    await appender.start()
    first.produce_error = error
    with pytest.raises(AppendFailed, match=match):
        await appender.append([RECORD])
    await asyncio.sleep(0.05)
    assert appender.made == [first] and not first.closed and appender.replaced == []
    await appender.stop()


async def test_errors_of_a_retired_producer_are_ignored() -> None:
    first, second = FakeProducer(), FakeProducer()
    appender = Appender([first, second])
    await appender.start()
    first.error(OUT_OF_ORDER)
    await until(lambda: len(appender.made) == 2)
    await until(lambda: appender._connected)
    first.error(ALL_DOWN)  # the old producer's last words
    first.error(OUT_OF_ORDER)
    await asyncio.sleep(0.05)
    assert appender._connected and appender.replaced == ["OUT_OF_ORDER_SEQUENCE_NUMBER"]
    await appender.stop()


# ---------------------------------------------------------------- pure parts


def test_the_producer_is_idempotent_acks_all_and_times_records_out_with_the_append() -> None:
    config = producer_config("kafka:9092", 3.0, 5)
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["message.timeout.ms"] == 3000  # a record's 503 and its expiry coincide
    assert config["partitioner"] == "murmur2_random"
    assert config["linger.ms"] == 5


@pytest.mark.parametrize(
    ("error", "fatal", "unreachable"),
    [
        (OUT_OF_ORDER, True, False),
        (KafkaError(KafkaError._FATAL), True, False),
        (ALL_DOWN, False, True),
        (KafkaError(KafkaError._TRANSPORT), False, False),  # one connection; others may live
        (TIMED_OUT, False, False),
    ],
)
def test_which_errors_retire_the_producer_or_fail_appends_fast(
    error: KafkaError, fatal: bool, unreachable: bool
) -> None:
    assert error_is_fatal(error) is fatal
    assert error_means_unreachable(error) is unreachable


def metadata(partitions: dict[int, int] | None, error: object = None) -> Any:
    topics = {}
    if partitions is not None:
        described = {p: SimpleNamespace(leader=leader) for p, leader in partitions.items()}
        topics["events"] = SimpleNamespace(error=error, partitions=described)
    return SimpleNamespace(topics=topics)


def test_the_topic_is_ready_only_when_every_partition_has_a_leader() -> None:
    assert topic_ready(metadata({0: 1, 1: 1}), "events")
    assert not topic_ready(metadata({0: 1, 1: -1}), "events")  # an election under way
    assert not topic_ready(metadata({}), "events")
    assert not topic_ready(metadata({0: 1}, error=KafkaError(3)), "events")
    assert not topic_ready(metadata(None), "events")


async def test_a_request_is_settled_once_at_its_last_ack_or_first_failure() -> None:
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[str | None] = loop.create_future()
    delivery = RequestDelivery(loop, acked, 2)
    delivery(None, None)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert not acked.done()
    delivery(None, None)  # type: ignore[arg-type]
    assert await acked is None

    failed: asyncio.Future[str | None] = loop.create_future()
    delivery = RequestDelivery(loop, failed, 3)
    delivery(None, None)  # type: ignore[arg-type]
    delivery(TIMED_OUT, None)  # type: ignore[arg-type]
    delivery(PURGED, None)  # type: ignore[arg-type]
    assert await failed == "_MSG_TIMED_OUT"

    gave_up: asyncio.Future[str | None] = loop.create_future()
    gave_up.cancel()  # the request timed out before its records were reported
    RequestDelivery(loop, gave_up, 1)(None, None)  # type: ignore[arg-type]
    await asyncio.sleep(0)


def test_librdkafka_partitions_keys_as_the_gateway_partitioner_does() -> None:
    """murmur2_random is the Java client's choice, and ingest_gateway.partitioner's: checked
    on librdkafka's in-process mock cluster, whose topics have 4 partitions (12, as the
    events topic, against the real broker in tests/integration/ingest_gateway/
    test_producer.py)."""
    config = producer_config("unused:9092", 10.0, 0)
    del config["logger"]
    # The mock cluster makes its topics on first use only.
    config["allow.auto.create.topics"] = True
    producer = Producer({**config, "test.mock.num.brokers": 1, "log_level": 3})
    keys = [f"project-{i % 7}:user-{i:05d}".encode() for i in range(300)]
    partitions: dict[bytes, int] = {}

    def delivered(error: KafkaError | None, message: Any) -> None:
        assert error is None
        partitions[message.key()] = message.partition()

    for key in keys:
        producer.produce("events", b"{}", key, on_delivery=delivered)
    assert producer.flush(10) == 0
    count = len(producer.list_topics("events", timeout=5).topics["events"].partitions)
    assert count == 4
    expected = {key: partition_for(key, list(range(count)), []) for key in keys}
    assert partitions == expected
    assert len(set(partitions.values())) == count
