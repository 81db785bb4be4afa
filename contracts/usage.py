"""The monthly usage state the stream workers keep in Redis and the gateway reads.

One Redis hash per project and calendar month (UTC, by ``receivedAt``)::

    {prefix}usage:{project_id}:{YYYY-MM}
        p{partition} -> events counted from that partition of the events topic
        o{partition} -> the offset of the last record counted in it (the version)
        limit        -> the project's monthly limit when last written

Each worker writes only the fields of the partitions it owns, as absolute values and only
when its offset is newer (see ``SET_IF_NEWER_SCRIPT``), so a replay never moves a count
backwards and one big project can be counted by several workers at once. Readers sum the
``p*`` fields.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

USAGE_TTL_SECONDS = 62 * 24 * 3600


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def usage_key(prefix: str, project_id: str, month: str) -> str:
    return f"{prefix}usage:{project_id}:{month}"


def partition_fields(partition: int) -> tuple[str, str]:
    return f"p{partition}", f"o{partition}"


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


# KEYS[1] usage key; ARGV: partition, count, offset, limit, ttl seconds.
# Writes p{partition}/o{partition} only when the offset is newer than the stored one.
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
