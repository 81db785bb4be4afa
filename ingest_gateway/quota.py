"""Monthly event quota: reserved atomically in Redis before the events are appended.

One script call per request checks the project-month's usage (what the workers counted
plus the reservations still in flight, ``contracts.usage``) and adds the request's events
to the reservations only if they all fit: a batch is taken whole or refused whole. The
reservation of an append that failed is given back, so a 503 costs no quota.
"""

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from contracts.usage import (
    RELEASE_SCRIPT,
    RESERVE_SCRIPT,
    USAGE_TTL_SECONDS,
    UsageState,
    month_of,
    usage_key,
)


@dataclass(frozen=True, slots=True)
class Reservation:
    granted: bool
    key: str
    events: int
    usage: UsageState  # after the reservation when granted, as it stood when refused


class QuotaReserver:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._reserve = redis.register_script(RESERVE_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)
        self._prefix = prefix

    async def reserve(self, project_id: str, events: int, limit: int, now: datetime) -> Reservation:
        """Reserve ``events`` of this month's (UTC) quota, or nothing if they do not fit."""
        key = usage_key(self._prefix, project_id, month_of(now))
        granted, used = await self._reserve(keys=[key], args=[events, limit, USAGE_TTL_SECONDS])
        return Reservation(bool(granted), key, events, UsageState(limit=limit, used=int(used)))

    async def release(self, reservation: Reservation) -> None:
        """Give back a granted reservation whose events were not appended."""
        if reservation.granted:
            await self._release(keys=[reservation.key], args=[reservation.events])
