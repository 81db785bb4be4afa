"""Follows the compacted ``control`` topic from its start: every service that applies
deployed configs (gateways, stream workers) reads every project's latest deploy itself.

No consumer group: each process needs every project's config. ``start`` reads up to the
end offsets seen at start (bounded), so a restarted process enforces what was deployed
from its first request or batch; later deploys apply as they arrive, without restart.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from common.kafka import topic_partitions
from contracts.control import ConfigDeployed, ControlError, decode_control

logger = logging.getLogger(__name__)


class ControlFollower:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        apply: Callable[[ConfigDeployed], bool],
        catch_up_seconds: float = 30.0,
    ) -> None:
        self._catch_up_seconds = catch_up_seconds
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        self._topic = topic
        self._apply = apply
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the topic to its current end, then keep following in the background."""
        consumer = self._consumer
        await consumer.start()
        tps = await topic_partitions(consumer, self._topic)
        if not tps:
            logger.warning("control topic %s not found; default configs only", self._topic)
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        async with asyncio.timeout(self._catch_up_seconds):
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    await self._poll()
        self._task = asyncio.create_task(self._follow())

    @property
    def following(self) -> bool:
        """False when ``start`` found no such topic (nothing is being followed)."""
        return self._task is not None

    async def _poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                try:
                    message = decode_control(record.value)
                except ControlError as exc:
                    logger.warning("control record at offset %d skipped: %s", record.offset, exc)
                    continue
                if message is not None and self._apply(message):
                    logger.info(
                        "project %s config version %d applied", message.project_id, message.version
                    )

    async def _follow(self) -> None:
        while True:
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep serving with the configs already held
                logger.exception("control topic poll failed; retrying")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
