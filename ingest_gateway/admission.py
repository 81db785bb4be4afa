"""One Redis round trip admits a request: its key's rate window, its project's monthly quota
and its lane, decided in that order by one Lua script; and the requests that arrive while a
round trip is out wait for the next one, and go together.

The script is the three checks' own Lua functions (``ingest_gateway.ratelimit``,
``contracts.usage``, ``ingest_gateway.lanes``) called in turn: a request over its rate
limit reserves no quota, and one the quota refuses is not metered for its lane. It was
three round trips (the quota one added by issue 15); each costs the gateway more CPU than
the script does in Redis: most of it redis-py's own Python per command (issue 21's
profile of single events: 28% of the event loop). So one script call admits every request
waiting when it starts, each in its turn, in the order they came: the same decisions as
one call each, one command's cost shared between them (group commit: a request alone goes
at once, as before; under load the batches grow by themselves). Every key is on the one
Redis the gateways share (no cluster).
"""

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from contracts.lanes import Lane
from contracts.usage import RESERVE_FUNCTION, USAGE_TTL_SECONDS, UsageState, month_of, usage_key
from ingest_gateway.lanes import LANE_FUNCTION, LaneDecision, choose_lane, lane_keys
from ingest_gateway.quota import Reservation
from ingest_gateway.ratelimit import RATE_FUNCTION, RateDecision, decide, rate_key

ANSWER_LENGTH = 6  # values the script returns per request
MAX_BATCH = 256  # requests a round trip: bounds one script's time in Redis (~1 ms)

# KEYS: per request, its four: rate prefix, usage key, lane meter prefix, lane hot mark.
# ARGV: rate window (ms), usage ttl (s), lane threshold (0: routing off), lane stickiness
# (ms); then per request its three: rate limit, events, monthly limit. Returns,
# per request in turn, {stage reached: -1 usage unknown (no usage hash: nothing counted,
# the gateway rebuilds it from PostgreSQL, ingest_gateway.usage_rebuild), 0 rate refused,
# 1 quota refused, 2 admitted, rate count, ms until the rate window resets, quota used,
# lane count, lane hot ms left}.
ADMIT_SCRIPT = (
    RATE_FUNCTION
    + RESERVE_FUNCTION
    + LANE_FUNCTION
    + """
local function admit(k, a)
  if redis.call('EXISTS', KEYS[k + 2]) == 0 then
    return {-1, 0, 0, 0, 0, 0}
  end
  local rate = rate_hit(KEYS[k + 1], ARGV[1])
  if rate[1] > tonumber(ARGV[a + 1]) then
    return {0, rate[1], rate[2], 0, 0, 0}
  end
  local quota = reserve(KEYS[k + 2], ARGV[a + 2], ARGV[a + 3], ARGV[2])
  if quota[1] == 0 then
    return {1, rate[1], rate[2], quota[2], 0, 0}
  end
  local lane = {0, 0}
  if tonumber(ARGV[3]) > 0 then
    lane = meter(KEYS[k + 3], KEYS[k + 4], ARGV[a + 2], ARGV[3], ARGV[4])
  end
  return {2, rate[1], rate[2], quota[2], lane[1], lane[2]}
end
local answers = {}
for i = 0, #KEYS / 4 - 1 do
  for _, v in ipairs(admit(i * 4, 4 + i * 3)) do
    answers[#answers + 1] = v
  end
end
return answers
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


@dataclass(frozen=True, slots=True)
class _Ask:
    """A request waiting for the next round trip, and where its answer goes."""

    keys: Sequence[str]
    args: Sequence[int]
    answer: asyncio.Future[list[int]]


class Admitter:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        window_seconds: int,
        lane_threshold: int,
        lane_sticky_seconds: float,
        max_batch: int = MAX_BATCH,
        on_round_trip: Callable[[int], None] = lambda requests: None,
    ) -> None:
        self._script = redis.register_script(ADMIT_SCRIPT)
        self._prefix = prefix
        self._window_ms = window_seconds * 1000
        self._threshold = max(0, lane_threshold)  # 0: routing off, every request on main
        self._sticky_ms = max(1, int(lane_sticky_seconds * 1000))
        self._max_batch = max_batch
        self._on_round_trip = on_round_trip  # the requests each round trip admitted
        self._waiting: list[_Ask] = []
        self._sender: asyncio.Task[None] | None = None  # the round trips' task, while any wait

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
        ask = _Ask(
            [rate_key(self._prefix, key_id), reservation_key, *lane_keys(self._prefix, project_id)],
            [rate_limit, events, monthly_limit],
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(ask)
        if self._sender is None:  # in a context of its own, not this request's (its id)
            self._sender = asyncio.create_task(self._send(), context=contextvars.Context())
            self._sender.add_done_callback(self._sender_done)
        result = await ask.answer
        return admission_of(
            result, rate_limit, reservation_key, events, monthly_limit, self._threshold
        )

    async def _send(self) -> None:
        """Round trips while requests wait, each taking those waiting when it starts."""
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            asks = [a for a in batch if not a.answer.done()]  # gone: timed out waiting
            if asks:
                await self._round_trip(asks)
        self._sender = None  # at once: a request in this same turn of the loop makes another

    def _sender_done(self, sender: asyncio.Task[None]) -> None:
        """A sender cancelled (the loop closing), before it ran or mid-way: no request left
        waiting on it, and the next request makes another."""
        if self._sender is sender:
            self._sender = None
            for ask in self._waiting:
                ask.answer.cancel()
            self._waiting.clear()

    async def _round_trip(self, asks: list[_Ask]) -> None:
        try:
            answers = await self._script(
                keys=[key for ask in asks for key in ask.keys],
                args=[
                    self._window_ms,
                    USAGE_TTL_SECONDS,
                    self._threshold,
                    self._sticky_ms,
                    *(arg for ask in asks for arg in ask.args),
                ],
            )
        except Exception as exc:  # each request decides what a failure means (fail open)
            for ask in asks:
                if not ask.answer.done():
                    ask.answer.set_exception(exc)
            return
        except asyncio.CancelledError:
            for ask in asks:
                ask.answer.cancel()
            raise
        self._on_round_trip(len(asks))
        for n, ask in enumerate(asks):
            if not ask.answer.done():
                ask.answer.set_result(answers[n * ANSWER_LENGTH : (n + 1) * ANSWER_LENGTH])
