"""One Redis round trip admits a request: its key's rate window, its project's monthly quota
and its lane, decided in that order by one Lua script.

The script is the three checks' own Lua functions (``ingest_gateway.ratelimit``,
``contracts.usage``, ``ingest_gateway.lanes``) called in turn: a request over its rate
limit reserves no quota, and one the quota refuses is not metered for its lane. It was
three round trips (the quota one added by issue 15); each costs the gateway more CPU than
the script does in Redis. Every key is on the one Redis the gateways share (no cluster).
"""

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from contracts.lanes import Lane
from contracts.usage import RESERVE_FUNCTION, USAGE_TTL_SECONDS, UsageState, month_of, usage_key
from ingest_gateway.lanes import LANE_FUNCTION, LaneDecision, choose_lane, lane_keys
from ingest_gateway.quota import Reservation
from ingest_gateway.ratelimit import RATE_FUNCTION, RateDecision, decide, rate_key

# KEYS: rate prefix, usage key, lane meter prefix, lane hot mark. ARGV: rate window (ms),
# rate limit, events, monthly limit, usage ttl (s), lane threshold (0: routing off), lane
# stickiness (ms). Returns {stage reached: -1 usage unknown (no usage hash: nothing counted,
# the gateway rebuilds it from PostgreSQL, ingest_gateway.usage_rebuild), 0 rate refused,
# 1 quota refused, 2 admitted, rate count, ms until the rate window resets, quota used,
# lane count, lane hot ms left}.
ADMIT_SCRIPT = (
    RATE_FUNCTION
    + RESERVE_FUNCTION
    + LANE_FUNCTION
    + """
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {-1, 0, 0, 0, 0, 0}
end
local rate = rate_hit(KEYS[1], ARGV[1])
if rate[1] > tonumber(ARGV[2]) then
  return {0, rate[1], rate[2], 0, 0, 0}
end
local quota = reserve(KEYS[2], ARGV[3], ARGV[4], ARGV[5])
if quota[1] == 0 then
  return {1, rate[1], rate[2], quota[2], 0, 0}
end
local lane = {0, 0}
if tonumber(ARGV[6]) > 0 then
  lane = meter(KEYS[3], KEYS[4], ARGV[3], ARGV[6], ARGV[7])
end
return {2, rate[1], rate[2], quota[2], lane[1], lane[2]}
"""
)

_MAIN = LaneDecision(Lane.MAIN, entered=False)


class UsageUnknown(Exception):
    """Redis holds no usage for the project-month (lost, or never written): nothing was
    decided or counted; rebuild it, then admit again."""


@dataclass(frozen=True, slots=True)
class Admission:
    rate: RateDecision
    reservation: Reservation | None  # None: refused by the rate limit, nothing reserved
    lane: LaneDecision


def admission_of(
    result: list[int],
    rate_limit: int,
    reservation_key: str,
    events: int,
    monthly_limit: int,
    threshold: int,
) -> Admission:
    """The script's answer as the three decisions (pure: unit-tested)."""
    stage, count, reset_ms, used, lane_count, hot_left = (int(v) for v in result)
    if stage == -1:
        raise UsageUnknown(reservation_key)
    rate = decide(count, reset_ms, rate_limit)
    if stage == 0:
        return Admission(rate, None, _MAIN)
    usage = UsageState(limit=monthly_limit, used=used)
    reservation = Reservation(stage == 2, reservation_key, events, usage)
    routed = stage == 2 and threshold > 0
    return Admission(
        rate, reservation, choose_lane(lane_count, hot_left, threshold) if routed else _MAIN
    )


class Admitter:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        window_seconds: int,
        lane_threshold: int,
        lane_sticky_seconds: float,
    ) -> None:
        self._script = redis.register_script(ADMIT_SCRIPT)
        self._prefix = prefix
        self._window_ms = window_seconds * 1000
        self._threshold = max(0, lane_threshold)  # 0: routing off, every request on main
        self._sticky_ms = max(1, int(lane_sticky_seconds * 1000))

    async def admit(
        self,
        key_id: str,
        rate_limit: int,
        project_id: str,
        events: int,
        monthly_limit: int,
        now: datetime,
    ) -> Admission:
        """Count the request in its key's window; if under the rate limit, reserve its
        events of this month's quota; if granted, meter them for the project's lane."""
        reservation_key = usage_key(self._prefix, project_id, month_of(now))
        result = await self._script(
            keys=[
                rate_key(self._prefix, key_id),
                reservation_key,
                *lane_keys(self._prefix, project_id),
            ],
            args=[
                self._window_ms,
                rate_limit,
                events,
                monthly_limit,
                USAGE_TTL_SECONDS,
                self._threshold,
                self._sticky_ms,
            ],
        )
        return admission_of(
            result, rate_limit, reservation_key, events, monthly_limit, self._threshold
        )
