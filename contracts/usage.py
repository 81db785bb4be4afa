"""The monthly usage state the stream workers keep in Redis and the gateway reads.

One Redis hash per project and calendar month (UTC, by ``receivedAt``)::

    {prefix}usage:{project_id}:{YYYY-MM}
        p{slot} -> events counted from that slot (a partition of one lane's topic)
        o{slot} -> the offset of the last record counted in it (the version)
        limit   -> the project's monthly limit when last written

A slot is one partition of one lane (``usage_slot``): the main lane's slots are its topic's
partition numbers, the overflow lane's are ``OVERFLOW_SLOT_BASE`` plus its partition, so
the two lanes' workers never write each other's fields (nor rows of ``usage_partitions``,
whose ``partition`` column holds the slot). Each worker writes only the fields of the slots
it owns, as absolute values and only when its offset is newer (see
``SET_IF_NEWER_SCRIPT``), so a replay never moves a count backwards and one big project can
be counted by several workers at once. Readers sum the ``p*`` fields, whatever the lane.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from contracts.lanes import Lane

USAGE_TTL_SECONDS = 62 * 24 * 3600
# Each lane's topic has fewer partitions than this (12 each), so slots never collide.
OVERFLOW_SLOT_BASE = 100


def usage_slot(lane: Lane, partition: int) -> int:
    """The usage slot of ``partition`` of ``lane``'s topic."""
    if not 0 <= partition < OVERFLOW_SLOT_BASE:
        raise ValueError(f"partition {partition} outside 0..{OVERFLOW_SLOT_BASE - 1}")
    return partition if lane is Lane.MAIN else OVERFLOW_SLOT_BASE + partition


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def usage_key(prefix: str, project_id: str, month: str) -> str:
    return f"{prefix}usage:{project_id}:{month}"


def slot_fields(slot: int) -> tuple[str, str]:
    return f"p{slot}", f"o{slot}"


def total_used(fields: Mapping[bytes | str, bytes | str]) -> int:
    total = 0
    for name, value in fields.items():
        text = name.decode() if isinstance(name, bytes) else name
        if text.startswith("p"):
            total += int(value)
    return total


@dataclass(frozen=True, slots=True)
class UsageState:
    limit: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used >= self.limit


# KEYS[1] usage key; ARGV: slot, count, offset, limit, ttl seconds.
# Writes p{slot}/o{slot} only when the offset is newer than the stored one.
SET_IF_NEWER_SCRIPT = """
local pfield = 'p' .. ARGV[1]
local ofield = 'o' .. ARGV[1]
local stored = redis.call('HGET', KEYS[1], ofield)
if stored and tonumber(stored) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], pfield, ARGV[2], ofield, ARGV[3], 'limit', ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1
"""
