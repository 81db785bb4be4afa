"""The monthly usage state in Redis: the workers' exact counts and the gateway's reservations.

One Redis hash per project and calendar month (UTC, by ``receivedAt``)::

    {prefix}usage:{project_id}:{YYYY-MM}
        p{slot}  -> events counted from that slot (a partition of one lane's topic)
        s{slot}  -> records seen in it that carried a gateway reservation (repeats too)
        o{slot}  -> the offset of the last record counted in it (the version)
        limit    -> the project's monthly limit when last written
        reserved -> events the gateways reserved quota for (answered 200, or appending)

The gateway reserves before it appends (``RESERVE_SCRIPT``, one atomic check-and-add per
request): a project-month's usage is what the workers counted plus the reservations still
in flight, ``sum(p) + max(0, reserved - sum(s))`` — exact, because every record the
gateway appended with a reservation says so (``EventRecord.quota_reserved``) and is seen
once by exactly one slot, counted or not (a repeated insertId is seen, not counted). A
request that would cross the limit is refused whole. An append that fails gives its
reservation back (``RELEASE_SCRIPT``). With Redis unreachable the gateway appends
unreserved events (fails open); the workers count them like any other, so they show as
usage past the limit (overage), never as a drop.

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
from datetime import date, datetime
from typing import NamedTuple

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


class UsageRow(NamedTuple):
    """One slot's absolute counts, as PostgreSQL holds them and Redis gets them."""

    project_id: str
    month: date
    slot: int
    used: int
    reserved_seen: int
    last_offset: int

    def fields(self) -> tuple[int, int, int, int]:
        """``SET_IF_NEWER_SCRIPT``'s first arguments: slot, used, reserved seen, offset."""
        return self.slot, self.used, self.reserved_seen, self.last_offset


def _sum_of(fields: Mapping[bytes | str, bytes | str], kind: str) -> int:
    total = 0
    for name, value in fields.items():
        text = name.decode() if isinstance(name, bytes) else name
        if text[:1] == kind and text[1:].isdigit():
            total += int(value)
    return total


def total_used(fields: Mapping[bytes | str, bytes | str]) -> int:
    """Events the workers counted (materialized), whatever the lane."""
    return _sum_of(fields, "p")


def in_flight(fields: Mapping[bytes | str, bytes | str]) -> int:
    """Reservations not yet seen by a worker (the events between 200 and counted)."""
    reserved = fields.get(b"reserved", fields.get("reserved", 0))
    return max(0, int(reserved) - _sum_of(fields, "s"))


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


# KEYS[1] usage key; ARGV: slot, count, reserved seen, offset, limit, ttl seconds.
# Writes p{slot}/s{slot}/o{slot} only when the offset is newer than the stored one.
SET_IF_NEWER_SCRIPT = """
local ofield = 'o' .. ARGV[1]
local stored = redis.call('HGET', KEYS[1], ofield)
if stored and tonumber(stored) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[1], 'p' .. ARGV[1], ARGV[2], 's' .. ARGV[1], ARGV[3],
  ofield, ARGV[4], 'limit', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
"""

# reserve(usage key, events, limit, ttl seconds) -> {1, used after} when the events are
# reserved, {0, used} when they would cross the limit (nothing reserved). used = counted +
# in flight, as ``total_used`` + ``in_flight``. A reserved total below what the workers saw
# (Redis lost it, or a failed append's reservation was given back though the append had
# landed) is first raised to it: nothing is in flight then. A Lua function, so the
# gateway's one admission script (ingest_gateway.admission) calls it too.
RESERVE_FUNCTION = """
local function reserve(key, events_text, limit_text, ttl)
  local state = redis.call('HGETALL', key)
  local counted, seen, reserved = 0, 0, 0
  for i = 1, #state, 2 do
    local name, value = state[i], tonumber(state[i + 1])
    local kind, rest = string.sub(name, 1, 1), string.sub(name, 2)
    if name == 'reserved' then
      reserved = value
    elseif kind == 'p' and string.match(rest, '^%d+$') then
      counted = counted + value
    elseif kind == 's' and string.match(rest, '^%d+$') then
      seen = seen + value
    end
  end
  if reserved < seen then
    reserved = seen
  end
  local used = counted + reserved - seen
  local events, limit = tonumber(events_text), tonumber(limit_text)
  if used + events > limit then
    return {0, used}
  end
  redis.call('HSET', key, 'reserved', reserved + events)
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, tonumber(ttl))
  end
  return {1, used + events}
end
"""
# KEYS[1] usage key; ARGV: events, limit, ttl seconds.
RESERVE_SCRIPT = RESERVE_FUNCTION + "return reserve(KEYS[1], ARGV[1], ARGV[2], ARGV[3])"

# KEYS[1] usage key; ARGV: events. Gives back the reservation of an append that failed.
RELEASE_SCRIPT = """
if redis.call('HEXISTS', KEYS[1], 'reserved') == 1 then
  return redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(ARGV[1]))
end
return 0
"""
