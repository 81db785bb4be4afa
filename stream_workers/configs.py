"""Per-project breakdown keys, followed live from the compacted ``control`` topic.

Every worker reads the whole topic itself (no consumer group: each needs every project's
config, whichever partitions of ``events`` it owns). At start it reads up to the end
before the events agent applies anything, so a restarted worker uses the deployed keys
from its first batch; later deploys apply from the next batch on, without a restart.
"""

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.control import ConfigDeployed, ControlError, decode_control
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS

logger = logging.getLogger(__name__)

MAX_BREAKDOWN_KEYS = 50  # each key multiplies rollup writes; the control plane caps lower


def merge_keys(deployed: tuple[str, ...], limit: int = MAX_BREAKDOWN_KEYS) -> tuple[str, ...]:
    """Default keys first, then the deployed ones, without repeats, at most ``limit``."""
    return tuple(dict.fromkeys((*DEFAULT_BREAKDOWN_KEYS, *deployed)))[:limit]


class BreakdownKeys:
    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, ...]] = {}
        self._versions: dict[str, int] = {}

    def __call__(self, project_id: str) -> tuple[str, ...]:
        return self._keys.get(project_id, DEFAULT_BREAKDOWN_KEYS)

    def apply(self, message: ConfigDeployed) -> bool:
        """Take a deploy unless an equal or newer version was already taken."""
        if message.version <= self._versions.get(message.project_id, 0):
            return False
        self._versions[message.project_id] = message.version
        self._keys[message.project_id] = merge_keys(message.breakdown_keys)
        return True


class ControlFollower:
    def __init__(
        self, bootstrap: str, topic: str, keys: BreakdownKeys, catch_up_seconds: float = 30.0
    ) -> None:
        self._catch_up_seconds = catch_up_seconds
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        self._topic = topic
        self._keys = keys
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the topic to its current end, then keep following in the background."""
        consumer = self._consumer
        await consumer.start()
        partitions = consumer.partitions_for_topic(self._topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self._topic) or set()
        tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        if not tps:
            logger.warning("control topic %s not found; default breakdown keys only", self._topic)
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        async with asyncio.timeout(self._catch_up_seconds):
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    await self._poll()
        self._task = asyncio.create_task(self._follow())

    async def _poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                try:
                    message = decode_control(record.value)
                except ControlError as exc:
                    logger.warning("control record at offset %d skipped: %s", record.offset, exc)
                    continue
                if message is not None and self._keys.apply(message):
                    logger.info(
                        "project %s config version %d applied", message.project_id, message.version
                    )

    async def _follow(self) -> None:
        while True:
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker must keep applying events with the keys it has
                logger.exception("control topic poll failed; retrying")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
