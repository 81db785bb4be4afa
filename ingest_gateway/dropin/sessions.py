"""Session ids for drop-in events that carry none: one session per 30 idle minutes per
distinct id, as Mixpanel and Amplitude count them.

Segment's and Mixpanel's server libraries send no session id, and PostHog's send one only
from the browser. An event without one joins its distinct id's current session when it is
at most ``idle`` after the session's last event (or at most ``idle`` before its first);
otherwise it starts a new one. The sessions live in Redis (one short string per active
distinct id, expiring ``ttl`` after its last event), updated by one script call per request,
so every gateway process agrees. The session id is a hash of the project, the distinct id
and the session's first event time: a retried request gets the same ids.

An event more than ``idle`` older than its distinct id's current session (a late upload),
and every event while Redis cannot be asked (failing open, as the quota does), gets the
fixed 30-minute window its timestamp falls in instead: still the same id on a retry.
"""

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ingest_gateway.dropin.wire import DISTINCT_ID, SESSION_ID, TIMESTAMP
from ingest_gateway.validation import parse_timestamp

logger = logging.getLogger(__name__)

IDLE_SECONDS = 30 * 60
TTL_SECONDS = 2 * 60 * 60

# KEYS[i]: one distinct id's session, "first event ms (the id's seed) start last".
# ARGV[1], ARGV[2]: idle ms, ttl ms; ARGV[3]: per key "t1 .. tn;" (ms, ascending), one
# string (one argument to encode and parse instead of hundreds: a batch's derivation costs
# one MGET and one SET per distinct id, docs/benchmarks.md (Drop-in formats)).
# Answers one seed per event time, space-separated: a session's first event time, or -1
# for "too late".
_SCRIPT = """
local idle, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local stored = redis.call('MGET', unpack(KEYS))
local out, k = {}, 0
for group in string.gmatch(ARGV[3], '[^;]+') do
  k = k + 1
  local seed, start, last
  if stored[k] then
    local a, b, c = string.match(stored[k], '(%d+) (%d+) (%d+)')
    seed, start, last = tonumber(a), tonumber(b), tonumber(c)
  end
  for word in string.gmatch(group, '%d+') do
    local t = tonumber(word)
    if seed == nil or t > last + idle then
      seed, start, last = t, t, t
      out[#out + 1] = seed
    elseif t < start - idle then
      out[#out + 1] = -1
    else
      if t < start then start = t end
      if t > last then last = t end
      out[#out + 1] = seed
    end
  end
  if seed ~= nil then
    redis.call('SET', KEYS[k], string.format('%d %d %d', seed, start, last), 'PX', ttl)
  end
end
return table.concat(out, ' ')
"""


def session_id(project_id: str, distinct_id: str, seed: str) -> str:
    digest = hashlib.sha256(f"{project_id}\x00{distinct_id}\x00{seed}".encode()).hexdigest()
    return f"$s_{digest[:24]}"


def window_seed(moment_ms: int, idle_ms: int = IDLE_SECONDS * 1000) -> str:
    return f"w{moment_ms // idle_ms}"


def needing_sessions(events: Sequence[Any]) -> dict[str, list[tuple[int, int]]]:
    """Per distinct id, ``(event time ms, index)`` of the events with no session id whose
    distinct id and timestamp are usable, ascending by time (the others are left to
    validation, which names their real problem)."""
    wanted: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get(SESSION_ID):
            continue
        distinct, stamp = event.get(DISTINCT_ID), event.get(TIMESTAMP)
        if not (isinstance(distinct, str) and distinct and isinstance(stamp, str)):
            continue
        moment = parse_timestamp(stamp)
        if moment is not None:
            wanted[distinct].append((int(moment.timestamp() * 1000), index))
    for times in wanted.values():
        times.sort()
    return wanted


class SessionDeriver:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        timeout: float,
        idle_seconds: int = IDLE_SECONDS,
        ttl_seconds: int = TTL_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout
        self._idle_ms = idle_seconds * 1000
        self._ttl_ms = ttl_seconds * 1000
        self._script = redis.register_script(_SCRIPT)

    async def fill(self, project_id: str, events: list[Any]) -> int:
        """Give each event without a session id its derived one (in place); how many got
        the fixed-window fallback because Redis could not be asked."""
        wanted = needing_sessions(events)
        if not wanted:
            return 0
        seeds = await self._seeds(project_id, wanted)
        for distinct, times in wanted.items():
            ids: dict[str, str] = {}  # a distinct id's events mostly share one session
            for position, (moment, index) in enumerate(times):
                seed = seeds[distinct][position] if seeds else -1
                label = str(seed) if seed >= 0 else window_seed(moment, self._idle_ms)
                if label not in ids:
                    ids[label] = session_id(project_id, distinct, label)
                events[index][SESSION_ID] = ids[label]
        return 0 if seeds else sum(len(times) for times in wanted.values())

    async def _seeds(
        self, project_id: str, wanted: dict[str, list[tuple[int, int]]]
    ) -> dict[str, list[int]] | None:
        keys = [self._key(project_id, distinct) for distinct in wanted]
        groups = ";".join(" ".join(str(moment) for moment, _ in times) for times in wanted.values())
        args: list[int | str] = [self._idle_ms, self._ttl_ms, groups]
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("session derivation failed (%s): fixed windows", type(exc).__name__)
            return None
        flat = [int(seed) for seed in answer.split()]
        seeds: dict[str, list[int]] = {}
        start = 0
        for distinct, times in wanted.items():
            seeds[distinct] = flat[start : start + len(times)]
            start += len(times)
        return seeds if start == len(flat) else None

    def _key(self, project_id: str, distinct_id: str) -> str:
        digest = hashlib.sha256(distinct_id.encode()).hexdigest()[:32]
        return f"{self._prefix}sess:{project_id}:{digest}"
