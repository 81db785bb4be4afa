"""Bucket rules of the rollup tables, as pure functions: the stream workers write by them and
the query API reads by them (each imports them from here; neither imports the other).

Every bucket is UTC-aligned: ``bucket = epoch + floor((ts - epoch) / width) * width``, the
same as PostgreSQL's ``date_bin(width, ts, '1970-01-01 00:00:00+00')``. A day in an IANA
timezone is not a UTC bucket, but every zone's offset today is a whole number of
15-minute steps (India +05:30, Nepal +05:45, DST shifts of an hour), so its day is a
union of UTC-aligned 15-minute, hour and day buckets: ``cover(*local_day(...))``.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Name as stored in the ``granularity`` column -> bucket width. Coarsest last.
GRANULARITIES: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "15min": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}

# Each key costs rollup rows (one per value, bucket and granularity): keep the list short.
# Most come from the workers' enrichment (stream_workers/enrichment.py, decision 0017).
DEFAULT_BREAKDOWN_KEYS: tuple[str, ...] = (
    "$pathname",
    "$referrer",
    "$browser",
    "$os",
    "$deviceType",
    "$country",
    "$channel",
    "utm_source",
)
MAX_VALUE_CHARS = 500  # a btree key must stay well under PostgreSQL's ~2.7 kB limit


def bucket_start(moment: datetime, granularity: str) -> datetime:
    """The start of the UTC-aligned bucket of ``granularity`` holding ``moment``."""
    width = GRANULARITIES[granularity]
    return EPOCH + ((moment.astimezone(UTC) - EPOCH) // width) * width


def cover(start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """The fewest rollup buckets whose union is exactly ``[start, end)``.

    Both ends must be whole minutes (finer ranges need the raw table for their edges).
    Greedy is optimal because the widths nest: at each point take the widest bucket that
    starts there and still ends within the range.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if bucket_start(start, "minute") != start or bucket_start(end, "minute") != end:
        raise ValueError("cover() needs whole-minute bounds")
    buckets: list[tuple[str, datetime]] = []
    point = start
    widest_first = list(reversed(GRANULARITIES.items()))
    while point < end:
        for name, width in widest_first:
            if bucket_start(point, name) == point and point + width <= end:
                buckets.append((name, point))
                point += width
                break
    return buckets


def local_day(day: date, timezone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of a calendar day in an IANA timezone (23 or 25 hours long
    on DST change days)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_days(first: date, last: date, timezone: str) -> Iterator[tuple[date, datetime, datetime]]:
    """Each day from ``first`` to ``last`` inclusive with its UTC range."""
    day = first
    while day <= last:
        yield (day, *local_day(day, timezone))
        day += timedelta(days=1)


def value_text(value: Any) -> str | None:
    """A property value as stored in ``breakdown_rollups.value``: strings as they are,
    other JSON values as their JSON text, absent/null as NULL; cut to MAX_VALUE_CHARS."""
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:MAX_VALUE_CHARS]
