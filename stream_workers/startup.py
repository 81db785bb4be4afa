"""Waiting for Kafka before the worker starts: Faust gives up at once when its producer
cannot bootstrap (the process exited within a second when the broker was not up yet, as
after a machine's reboot where the worker comes up first); the worker waits instead, as
the gateway's producer does, saying so once per attempt."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[None]]


async def kafka_reachable(bootstrap: str) -> None:
    """One bootstrap (a metadata request), raising ``KafkaConnectionError`` if it fails."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await client.bootstrap()
    finally:
        await client.close()


async def wait_for_kafka(
    bootstrap: str, probe: Probe | None = None, first_delay: float = 0.5, max_delay: float = 5.0
) -> int:
    """Return once Kafka answers; the failed attempts before that."""
    attempt = probe or (lambda: kafka_reachable(bootstrap))
    failures, delay = 0, first_delay
    while True:
        try:
            await attempt()
            return failures
        except (KafkaConnectionError, OSError) as exc:
            failures += 1
            logger.warning(
                "kafka at %s unreachable at start (%s); retrying in %.1f s",
                bootstrap,
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
