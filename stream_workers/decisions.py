"""The pure decisions of one batch: which records are new, duplicate or over the limit.

The sink loads the state these need (stored offsets, insertIds seen, usage so far, plan
limits) under row locks, calls these functions, and writes what they return.
"""

import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from contracts.events import EventRecord
from stream_workers.decoding import Decoded
from stream_workers.partitions import partition_month

DEDUP_WINDOW = timedelta(days=7)

DedupKey = tuple[str, str]  # (project_id, insert_id)
MonthKey = tuple[str, date]  # (project_id, first day of the month, UTC by receivedAt)
PartMonthKey = tuple[str, date, int]  # (project_id, month, partition)


class Positioned(NamedTuple):
    """What the decisions need of a decoded record, and where it sits on the topic. A small
    tuple: one is held per record of the batches in flight, whose full records are already
    formatted for the staging COPY."""

    partition: int
    offset: int
    project_id: str
    insert_id: str | None
    received_at: datetime
    month: date  # of receivedAt: the usage month
    partition_month: date | None  # of timestamp: the raw table's partition (None: DEFAULT)

    @classmethod
    def of(cls, partition: int, offset: int, record: EventRecord | Decoded) -> "Positioned":
        received = record.received_at
        return cls(
            partition,
            offset,
            # Interned: a batch holds a few project ids, each once instead of once per record.
            sys.intern(record.project_id),
            record.insert_id,
            received,
            month_start(received),
            partition_month(record.timestamp, received),
        )


def month_start(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def arrival_order(items: Iterable[Positioned]) -> list[Positioned]:
    """Receive order, then topic order: who came first gets the last unit of a quota."""
    return sorted(items, key=lambda i: (i.received_at, i.partition, i.offset))


def select_new(
    items: Sequence[Positioned], stored: Mapping[DedupKey, datetime | None]
) -> tuple[list[Positioned], dict[DedupKey, datetime]]:
    """Drop repeats of an insertId within DEDUP_WINDOW of its last counted sighting.

    ``stored`` is the received_at last counted per key (None: never seen). Returns the
    records to keep, in input order, and the new received_at of every key that changed.
    """
    kept: list[Positioned] = []
    changed: dict[DedupKey, datetime] = {}
    for item in items:
        insert_id = item.insert_id
        if insert_id is None:
            kept.append(item)
            continue
        key = (item.project_id, insert_id)
        last = changed.get(key, stored.get(key))
        received = item.received_at
        if last is None or received >= last + DEDUP_WINDOW:
            kept.append(item)
            changed[key] = received
    return kept, changed


def dedup_keys(items: Iterable[Positioned]) -> list[DedupKey]:
    """The (project, insertId) of every record that has an insertId, in input order."""
    return [(i.project_id, i.insert_id) for i in items if i.insert_id is not None]


def order_matters(keys: Sequence[DedupKey], stored: Mapping[DedupKey, datetime]) -> bool:
    """Whether dedup can depend on the order of the batch: some key was counted before, or
    repeats within it. Otherwise every record is new and the order is irrelevant."""
    return bool(stored) or len(set(keys)) < len(keys)


def dedup_rewrites(
    items: Sequence[Positioned],
    stored: Mapping[DedupKey, datetime],
    changed: Mapping[DedupKey, datetime],
) -> dict[DedupKey, datetime]:
    """The ``changed`` keys whose row the batch's claim left wrong: keys counted before
    (``stored``), and new keys counted again later in the batch (a claim records a new key
    at its first sighting)."""
    first: dict[DedupKey, datetime] = {}
    for item in items:
        if item.insert_id is None:
            continue
        key = (item.project_id, item.insert_id)
        seen = first.get(key)
        if seen is None or item.received_at < seen:
            first[key] = item.received_at
    return {k: v for k, v in changed.items() if k in stored or v != first.get(k)}


@dataclass(slots=True)
class UsageDelta:
    used: int = 0
    dropped: int = 0
    last_offset: int = -1


@dataclass(slots=True)
class LimitOutcome:
    accepted: list[Positioned] = field(default_factory=list)
    months: dict[MonthKey, UsageDelta] = field(default_factory=dict)
    parts: dict[PartMonthKey, UsageDelta] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        return sum(delta.dropped for delta in self.months.values())


def apply_limits(
    items: Sequence[Positioned],
    used: Mapping[MonthKey, int],
    limits: Mapping[str, int],
) -> LimitOutcome:
    """Accept records while their project-month is under its plan limit; count the rest
    as dropped. A project missing from ``limits`` (deleted) has nothing accepted."""
    totals = Counter((i.project_id, i.month) for i in items)
    if all(used.get(key, 0) + n <= limits.get(key[0], 0) for key, n in totals.items()):
        return accept_all(items, totals)
    return apply_limits_in_order(items, used, limits)


def accept_all(items: Sequence[Positioned], totals: Mapping[MonthKey, int]) -> LimitOutcome:
    """``apply_limits`` when every project-month has room for all its records (the
    common case): the same outcome without deciding record by record."""
    parts: dict[PartMonthKey, UsageDelta] = {}
    for item in items:
        key = (item.project_id, item.month, item.partition)
        delta = parts.get(key)
        if delta is None:
            parts[key] = UsageDelta(used=1, last_offset=item.offset)
        else:
            delta.used += 1
            if item.offset > delta.last_offset:
                delta.last_offset = item.offset
    months = {key: UsageDelta(used=n) for key, n in totals.items()}
    return LimitOutcome(accepted=list(items), months=months, parts=parts)


def apply_limits_in_order(
    items: Sequence[Positioned],
    used: Mapping[MonthKey, int],
    limits: Mapping[str, int],
) -> LimitOutcome:
    """``apply_limits`` record by record, in the order given."""
    outcome = LimitOutcome()
    for item in items:
        month_key = (item.project_id, item.month)
        part_key = (item.project_id, item.month, item.partition)
        month_delta = outcome.months.setdefault(month_key, UsageDelta())
        part_delta = outcome.parts.setdefault(part_key, UsageDelta())
        part_delta.last_offset = max(part_delta.last_offset, item.offset)
        limit = limits.get(item.project_id, 0)
        if used.get(month_key, 0) + month_delta.used < limit:
            month_delta.used += 1
            part_delta.used += 1
            outcome.accepted.append(item)
        else:
            month_delta.dropped += 1
            part_delta.dropped += 1
    return outcome
