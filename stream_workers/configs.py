"""Per-project breakdown keys, followed live from the compacted ``control`` topic.

Every worker reads the whole topic itself (no consumer group: each needs every project's
config, whichever partitions of ``events`` it owns). At start it reads up to the end
before the events agent applies anything, so a restarted worker uses the deployed keys
from its first batch; later deploys apply from the next batch on, without a restart.
"""

import logging

from contracts.control import ConfigDeployed
from stream_workers.caps import MAX_KEY_BYTES, storable_key
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS

logger = logging.getLogger(__name__)

MAX_BREAKDOWN_KEYS = 50  # each key multiplies rollup writes; the control plane caps lower


def merge_keys(deployed: tuple[str, ...], limit: int = MAX_BREAKDOWN_KEYS) -> tuple[str, ...]:
    """Default keys first, then the deployed ones, without repeats, at most ``limit``.
    A key whose rows could not be indexed (over MAX_KEY_BYTES) is left out: queries on
    it are answered from the raw events instead."""
    kept = (k for k in deployed if storable_key(k))
    return tuple(dict.fromkeys((*DEFAULT_BREAKDOWN_KEYS, *kept)))[:limit]


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
        left_out = sum(not storable_key(k) for k in message.breakdown_keys)
        if left_out:
            logger.warning(
                "project %s: %d breakdown keys over %d bytes get no rollups",
                message.project_id,
                left_out,
                MAX_KEY_BYTES,
            )
        return True
