"""Where a timeseries' buckets start and end in an IANA timezone, as pure functions.

Buckets are the zone's own: hours start when the zone's clock shows a whole hour (at :30
UTC in Kolkata), days at its midnights (23 or 25 hours long on DST change days), weeks on
Mondays (ISO 8601), months on the 1st. Every zone's offset since 1970 but two historical
ones is a whole number of 15-minute steps, so walking the UTC 15-minute grid finds every
local hour start (the two are floored to their hour where they are in force).
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from query_api.model import Interval, Range

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def default_interval(length: timedelta) -> Interval:
    """The interval a chart of that range reads best in (a few dozen to a few hundred points)."""
    if length <= timedelta(hours=6):
        return "minute"
    if length <= timedelta(days=7):
        return "hour"
    if length <= timedelta(days=180):
        return "day"
    if length <= timedelta(days=730):
        return "week"
    return "month"


def _floor(moment: datetime, width: timedelta) -> datetime:
    return EPOCH + ((moment - EPOCH) // width) * width


def _off_grid(local: datetime) -> bool:
    """Whether the zone's offset there is off the 15-minute grid: only a few historical
    ones are (Kiritimati's -10:40 until 1979, Monrovia's -0:44:30 until 1972); their hours
    start between the grid's points."""
    offset = local.utcoffset()
    return offset is not None and offset % QUARTER != timedelta(0)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _local_starts(
    start: datetime, end: datetime, interval: Interval, zone: ZoneInfo
) -> list[datetime]:
    """Every bucket start in ``(start - one bucket, end)``, ascending, in UTC."""
    if interval == "minute":
        minute = timedelta(minutes=1)
        point = _floor(start, minute)
        return [point + n * minute for n in range(-(-(end - point) // minute))]
    if interval == "hour":
        point = _floor(start - timedelta(hours=1), QUARTER)
        starts: list[datetime] = []
        while point < end:
            local = point.astimezone(zone)
            if local.minute == 0 and local.second == 0:
                starts.append(point)
                # The next hour starts an hour later unless the offset moves by a part of an
                # hour in between (Lord Howe's 30-minute DST); then walk quarters again.
                point += HOUR - QUARTER
            elif _off_grid(local):
                hour = point - timedelta(minutes=local.minute, seconds=local.second)
                if not starts or hour > starts[-1]:
                    starts.append(hour)
            point += QUARTER
        return starts
    first = (start.astimezone(zone) - timedelta(days=1)).date()
    if interval == "week":
        first -= timedelta(days=first.weekday())
    elif interval == "month":
        first = first.replace(day=1)
    starts = []
    day = first
    while (point := _midnight(day, zone)) < end:
        starts.append(point)
        if interval == "day":
            day += timedelta(days=1)
        elif interval == "week":
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


def buckets(
    span: Range, interval: Interval, timezone: str
) -> tuple[list[datetime], list[datetime]]:
    """(labels, edges): each bucket's start (its ``t``, possibly before the range start) and
    the ``len(labels) + 1`` edges in UTC that cut ``[start, end)`` into the counted parts."""
    zone = ZoneInfo(timezone)
    starts = _local_starts(span.start, span.end, interval, zone)
    first = max(s for s in starts if s <= span.start)
    inner = [s for s in starts if span.start < s < span.end]
    labels = [first, *inner]
    edges = [span.start, *inner, span.end]
    return labels, edges


def label(moment: datetime, timezone: str) -> str:
    """ISO 8601 with the zone's offset at that moment: ``2026-02-01T00:00:00+05:30``."""
    return labels_in([moment], timezone)[0]


def labels_in(moments: Sequence[datetime], timezone: str) -> list[str]:
    """``label`` of each moment (the zone looked up once)."""
    zone = ZoneInfo(timezone)
    return [moment.astimezone(zone).isoformat() for moment in moments]
