"""Keeps the gateway's ``ProjectRules`` current from the control topic, reconnecting as
needed: the gateway serves (with the rules it holds) whether or not Kafka is up."""

import asyncio
import contextlib
import logging

from aiokafka.errors import KafkaError

from common.control_follower import ControlFollower
from ingest_gateway.rules import ProjectRules

logger = logging.getLogger(__name__)


class ConfigWatcher:
    def __init__(self, bootstrap: str, topic: str, rules: ProjectRules) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._rules = rules
        self._follower: ControlFollower | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Catch up with the deployed configs, waiting up to ``wait_seconds``."""
        self._task = asyncio.create_task(self._connect_forever())
        await asyncio.wait([self._task], timeout=wait_seconds)

    async def _connect_forever(self) -> None:
        while True:
            follower = ControlFollower(self._bootstrap, self._topic, self._rules.apply)
            try:
                await follower.start()
            except (KafkaError, OSError, TimeoutError) as exc:
                logger.warning("control topic not readable (%s); retrying", type(exc).__name__)
                await follower.stop()
                await asyncio.sleep(2)
                continue
            except asyncio.CancelledError:
                await follower.stop()
                raise
            if not follower.following:  # the topic does not exist (yet): look again soon
                await follower.stop()
                await asyncio.sleep(2)
                continue
            self._follower = follower
            return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._follower is not None:
            await self._follower.stop()
