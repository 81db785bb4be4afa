"""Expected answers computed in plain Python from the generated events, independently of
the query API's SQL and bucket code (local buckets by flooring each event's wall time)."""

import random
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from contracts.events import EventRecord

EVENTS = ("$pageview", "signup", "purchase")
PATHS = ("/", "/pricing", "/docs", "/blog", "/about", "/careers")


def generate(
    project: str, start: datetime, days: float, count: int, users: int = 150, seed: int = 11
) -> list[EventRecord]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        user = rng.randrange(users)
        props: dict[str, Any] = {"$pathname": rng.choice(PATHS), "amount": rng.randrange(100)}
        if rng.random() < 0.6:
            props["$browser"] = rng.choice(["Chrome", "Firefox", "Safari"])
        if rng.random() < 0.5:
            props["plan"] = rng.choice(["free", "pro", "enterprise"])
        ts = start + timedelta(
            seconds=rng.randrange(int(days * 86400)), milliseconds=rng.randrange(1000)
        )
        out.append(
            EventRecord(
                id=str(uuid.uuid4()),
                project_id=project,
                event=rng.choice(EVENTS),
                timestamp=ts,
                received_at=datetime.now(UTC),
                distinct_id=f"u{user}",
                session_id=f"s{user}-{rng.randrange(4)}",
                properties=props,
            )
        )
    return out


def local_floor(moment: datetime, interval: str, zone: ZoneInfo) -> datetime:
    """The start of the zone's bucket holding ``moment``, in UTC."""
    local = moment.astimezone(zone)
    if interval == "minute":
        floored = local.replace(second=0, microsecond=0)
    elif interval == "hour":
        floored = local.replace(minute=0, second=0, microsecond=0)
    else:
        day = local.date()
        if interval == "week":
            day -= timedelta(days=day.weekday())
        elif interval == "month":
            day = day.replace(day=1)
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    # Same wall time and fold: a repeated hour (DST end) stays the hour it was in.
    return floored.astimezone(UTC)


def text(value: Any) -> str | None:
    if value is None:
        return None
    return (value if isinstance(value, str) else orjson.dumps(value).decode())[:500]


def measure(records: Iterable[EventRecord], metric: str) -> int:
    rows = list(records)
    if metric == "count":
        return len(rows)
    if metric == "unique_users":
        return len({r.distinct_id for r in rows})
    return len({r.session_id for r in rows})


Predicate = Callable[[EventRecord], bool]


def selected(
    records: Iterable[EventRecord], event: str, start: datetime, end: datetime, keep: Predicate
) -> list[EventRecord]:
    return [r for r in records if r.event == event and start <= r.timestamp < end and keep(r)]


def timeseries(
    records: Sequence[EventRecord],
    event: str,
    start: datetime,
    end: datetime,
    interval: str,
    timezone: str,
    metric: str,
    keep: Predicate = lambda r: True,
) -> list[dict[str, Any]]:
    zone = ZoneInfo(timezone)
    labels = []
    point = start.replace(second=0, microsecond=0)
    while point < end:  # every minute of the range names its bucket
        label = local_floor(point, interval, zone)
        if not labels or labels[-1] != label:
            labels.append(label)
        point += timedelta(minutes=1)
    groups: dict[datetime, list[EventRecord]] = defaultdict(list)
    for r in selected(records, event, start, end, keep):
        groups[local_floor(r.timestamp, interval, zone)].append(r)
    return [
        {"t": t.astimezone(zone).isoformat(), "value": measure(groups[t], metric)} for t in labels
    ]


def breakdown(
    records: Sequence[EventRecord],
    event: str,
    start: datetime,
    end: datetime,
    key: str,
    limit: int,
    metric: str,
    keep: Predicate = lambda r: True,
) -> dict[str, Any]:
    groups: dict[str | None, list[EventRecord]] = defaultdict(list)
    for r in selected(records, event, start, end, keep):
        groups[text(r.properties.get(key))].append(r)
    ranked = sorted(
        ((k, measure(v, metric)) for k, v in groups.items()),
        key=lambda g: (-g[1], g[0] is None, g[0] or ""),
    )
    top = ranked[:limit]
    rest = [r for k, v in groups.items() if k not in {t[0] for t in top} for r in v]
    return {
        "data": [{"key": k, "value": n} for k, n in top],
        "other": measure(rest, metric),
    }


def funnel(
    records: Sequence[EventRecord],
    steps: Sequence[tuple[str, Predicate]],
    start: datetime,
    end: datetime,
    window: timedelta,
) -> list[int]:
    """Users per step by brute force: every step-1 event, every ordered chain."""
    by_user: dict[str, list[EventRecord]] = defaultdict(list)
    for r in records:
        if start <= r.timestamp < end:
            by_user[r.distinct_id].append(r)
    reached = [0] * len(steps)
    for rows in by_user.values():
        rows.sort(key=lambda r: r.timestamp)
        best = 0

        def extend(level: int, first: datetime, last: datetime) -> int:
            if level == len(steps):
                return level
            event, keep = steps[level]
            deepest = level
            for r in rows:
                if r.event == event and keep(r) and last < r.timestamp <= first + window:
                    deepest = max(deepest, extend(level + 1, first, r.timestamp))
            return deepest

        for r in rows:
            if r.event == steps[0][0] and steps[0][1](r):
                best = max(best, extend(1, r.timestamp, r.timestamp))
        for level in range(best):
            reached[level] += 1
    return reached


def funnel_medians(
    records: Sequence[EventRecord],
    steps: Sequence[tuple[str, Predicate]],
    start: datetime,
    end: datetime,
    window: timedelta,
) -> list[float | None]:
    """Median seconds of steps 2..n over the users reaching them, by the contract's own
    words: from each step-1 event, step k is the earliest step-k event strictly after step
    k-1 and within the window; per user the chain reaching furthest (earliest on ties)."""
    by_user: dict[str, list[EventRecord]] = defaultdict(list)
    for r in records:
        if start <= r.timestamp < end:
            by_user[r.distinct_id].append(r)
    seconds: list[list[float]] = [[] for _ in steps[1:]]
    for rows in by_user.values():
        rows.sort(key=lambda r: r.timestamp)
        best: list[datetime] = []
        for r in rows:
            if not (r.event == steps[0][0] and steps[0][1](r)):
                continue
            chain = [r.timestamp]
            for event, keep in steps[1:]:
                later = [
                    x.timestamp
                    for x in rows
                    if x.event == event and keep(x) and chain[-1] < x.timestamp
                ]
                if not later or min(later) > r.timestamp + window:
                    break
                chain.append(min(later))
            if len(chain) > len(best):
                best = chain
        for k in range(1, len(best)):
            seconds[k - 1].append((best[k] - best[k - 1]).total_seconds())
    return [statistics.median(s) if s else None for s in seconds]
