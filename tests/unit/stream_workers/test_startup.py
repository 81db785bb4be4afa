import logging

import pytest
from aiokafka.errors import KafkaConnectionError

from stream_workers.startup import wait_for_kafka


async def test_the_worker_waits_for_kafka_instead_of_exiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tries: list[int] = []

    async def probe() -> None:
        tries.append(1)
        if len(tries) < 3:
            raise KafkaConnectionError("Unable to bootstrap")

    with caplog.at_level(logging.WARNING):
        failures = await wait_for_kafka("127.0.0.1:9", probe, first_delay=0.001)
    assert failures == 2 and len(tries) == 3
    assert caplog.text.count("kafka at 127.0.0.1:9 unreachable at start") == 2


async def test_a_reachable_kafka_is_not_waited_for() -> None:
    async def probe() -> None:
        return None

    assert await wait_for_kafka("127.0.0.1:9", probe) == 0
