"""The parsed query: frozen dataclasses the planner and SQL builders work from."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Metric = Literal["count", "unique_users", "sessions"]
Interval = Literal["minute", "hour", "day", "week", "month"]

METRICS: tuple[str, ...] = ("count", "unique_users", "sessions")
INTERVALS: tuple[str, ...] = ("minute", "hour", "day", "week", "month")
# The periods of retention and lifecycle: calendar periods of the query's timezone.
Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
DIRECTIONS: tuple[str, ...] = ("next", "previous")
OPS: tuple[str, ...] = (
    "eq",
    "neq",
    "contains",
    "not_contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "is_set",
    "is_not_set",
)
WINDOW_UNITS: dict[str, timedelta] = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class Filter:
    key: str
    op: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Range:
    """``[start, end)`` in UTC; the request's inclusive ``end`` plus one millisecond."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> "Range":
        return Range(self.start - self.length, self.start)


@dataclass(frozen=True, slots=True)
class Timeseries:
    project: str
    event: str
    range: Range
    metric: Metric
    interval: Interval
    timezone: str
    filters: tuple[Filter, ...]
    # Raw rows flagged ``$bot`` count only when true (rollups never hold them).
    include_bots: bool = False


@dataclass(frozen=True, slots=True)
class Breakdown:
    project: str
    event: str
    range: Range
    metric: Metric
    breakdown: str
    limit: int
    filters: tuple[Filter, ...]
    # Raw rows flagged ``$bot`` count only when true (rollups never hold them).
    include_bots: bool = False


@dataclass(frozen=True, slots=True)
class MetricQuery:
    project: str
    event: str
    range: Range
    metric: Metric
    filters: tuple[Filter, ...]
    # Raw rows flagged ``$bot`` count only when true (rollups never hold them).
    include_bots: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    event: str
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Funnel:
    project: str
    range: Range
    steps: tuple[Step, ...]
    window: timedelta
    filters: tuple[Filter, ...]
    # Raw rows flagged ``$bot`` count only when true (rollups never hold them).
    include_bots: bool = False


@dataclass(frozen=True, slots=True)
class Retention:
    """Persons cohorted by the period of their first ``start_event`` in the range; who of
    them did ``return_event`` in each later period (``retention.py``)."""

    project: str
    range: Range
    start_event: str
    return_event: str
    interval: Period
    timezone: str
    filters: tuple[Filter, ...]
    include_bots: bool = False


@dataclass(frozen=True, slots=True)
class Paths:
    """The events persons did after (or before) their first ``start_event`` (``paths.py``)."""

    project: str
    range: Range
    start_event: str
    direction: Literal["next", "previous"]
    steps: int
    limit: int
    timezone: str
    filters: tuple[Filter, ...]
    include_bots: bool = False


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """New, returning, resurrecting and dormant persons of ``event`` per period."""

    project: str
    range: Range
    event: str
    interval: Period
    timezone: str
    filters: tuple[Filter, ...]
    include_bots: bool = False


Query = Timeseries | Breakdown | MetricQuery | Funnel | Retention | Paths | Lifecycle
