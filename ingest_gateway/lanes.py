"""Which lane a project's events go to: the main one, or the overflow one when it is hot.

Every gateway meters each project's accepted events per second in Redis (one Lua script,
one round trip, windows on Redis's own clock so all gateways share them). A project that
sends more than ``threshold`` events in a second is marked hot for ``sticky`` seconds,
renewed while it stays over, and its events are appended to the overflow topic meanwhile
(``contracts/lanes.py``): its own workers apply them, so a flood never delays the other
projects' events on the main lane. Sticky, so a project near the threshold does not flap
between the lanes. The records are the same on both lanes. Redis down: the main lane
(failing open, as the rate limit does).
"""

from dataclasses import dataclass

from redis.asyncio import Redis

from contracts.lanes import Lane

# meter(the project's meter prefix, its hot mark, events in this request, threshold (events
# per second), how long a mark lasts (ms)) -> {events this second so far, ms left of the
# hot mark before this request (<= 0: none)}; marks the project hot when this second's
# count passes the threshold. A Lua function, so the gateway's one admission script
# (ingest_gateway.admission) calls it too.
LANE_FUNCTION = """
local function meter(prefix, hot_key, events_text, threshold, sticky_ms)
  local now = redis.call('TIME')
  local key = prefix .. ':' .. now[1]
  local events = tonumber(events_text)
  local count = redis.call('INCRBY', key, events)
  if count == events then
    redis.call('PEXPIRE', key, 2000)
  end
  local left = redis.call('PTTL', hot_key)
  if count > tonumber(threshold) then
    redis.call('SET', hot_key, '1', 'PX', sticky_ms)
  end
  return {count, left}
end
"""
_SCRIPT = LANE_FUNCTION + "return meter(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])"


def lane_keys(prefix: str, project_id: str) -> list[str]:
    """The project's meter prefix and its hot mark."""
    return [f"{prefix}lane:{project_id}", f"{prefix}lane-hot:{project_id}"]


@dataclass(frozen=True, slots=True)
class LaneDecision:
    lane: Lane
    entered: bool  # this request moved the project to the overflow lane


def choose_lane(count: int, hot_ms_left: int, threshold: int) -> LaneDecision:
    """The lane of a request that made the project's count this second ``count``, the
    project's hot mark having ``hot_ms_left`` ms to run before it (<= 0: not hot). A
    request that passes the threshold goes to the overflow lane itself."""
    over = count > threshold
    if over or hot_ms_left > 0:
        return LaneDecision(Lane.OVERFLOW, entered=hot_ms_left <= 0)
    return LaneDecision(Lane.MAIN, entered=False)


class LaneMeter:
    def __init__(self, redis: Redis, prefix: str, threshold: int, sticky_seconds: float) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._prefix = prefix
        self._threshold = threshold
        self._sticky_ms = max(1, int(sticky_seconds * 1000))

    async def route(self, project_id: str, events: int) -> LaneDecision:
        """Count ``events`` more of the project this second; the lane they go to."""
        count, left = await self._script(
            keys=lane_keys(self._prefix, project_id),
            args=[events, self._threshold, self._sticky_ms],
        )
        return choose_lane(int(count), int(left), self._threshold)
