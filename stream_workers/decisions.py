"""The pure decisions of one batch: which records are new or duplicate, and what they add
to their project's monthly usage.

The sink loads the state these need (stored offsets, insertIds seen, live projects) under
row locks, calls these functions, and writes what they return. The monthly plan limit is
not decided here: the gateway reserved quota for every event it answered 200
(``contracts.usage``), so the workers count every new event, past the limit too (an
overage the gateway let through while Redis was down), and never drop one.
"""

import sys
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from contracts.events import DERIVE_SESSION, EventRecord
from stream_workers.decoding import Decoded
from stream_workers.raw_tables import first_day, partition_month

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
    quota_reserved: bool  # the gateway reserved quota for it (contracts.events)
    bot: bool = False  # a crawler's (``$bot``, stream_workers/enrichment.py): counted apart
    derive_session: bool = False  # came with ``$derive``: stream_workers/sessions.py

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
            record.quota_reserved,
            record.properties.get("$bot") is True,
            record.session_id == DERIVE_SESSION,
        )


def month_start(moment: datetime) -> date:
    return first_day(moment.year, moment.month)


def arrival_order(items: Iterable[Positioned]) -> list[Positioned]:
    """Receive order, then topic order: who came first is the one counted of a repeat."""
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
    """What a batch adds to one project-month (or one of its partitions): ``used`` counts
    the events materialized; ``reserved_seen`` every record that carried a gateway
    reservation, duplicates included (each consumed one when the gateway answered)."""

    used: int = 0
    reserved_seen: int = 0
    last_offset: int = -1


@dataclass(slots=True)
class UsageOutcome:
    accepted: list[Positioned] = field(default_factory=list)
    months: dict[MonthKey, UsageDelta] = field(default_factory=dict)
    parts: dict[PartMonthKey, UsageDelta] = field(default_factory=dict)


def bot_counts(accepted: Iterable[Positioned]) -> dict[MonthKey, int]:
    """The accepted crawler events per project-month (table ``bot_events``)."""
    counts: dict[MonthKey, int] = {}
    for item in accepted:
        if item.bot:
            key = (item.project_id, item.month)
            counts[key] = counts.get(key, 0) + 1
    return counts


def count_usage(
    items: Sequence[Positioned], kept: Sequence[Positioned], live: Container[str]
) -> UsageOutcome:
    """Accept every ``kept`` record (the new ones of ``items``) of a ``live`` project and
    count it; count the reservations of all ``items``. A project not ``live`` (deleted) has
    nothing accepted or counted. Months get only ``used``; parts also the reservations and
    the offset that versions their Redis fields."""
    outcome = UsageOutcome()
    kept_at = None if kept is items else {(i.partition, i.offset) for i in kept}
    for item in items:
        if item.project_id not in live:
            continue
        part = outcome.parts.get((item.project_id, item.month, item.partition))
        if part is None:
            part = outcome.parts[(item.project_id, item.month, item.partition)] = UsageDelta()
        if item.offset > part.last_offset:
            part.last_offset = item.offset
        if item.quota_reserved:
            part.reserved_seen += 1
        if kept_at is None or (item.partition, item.offset) in kept_at:
            part.used += 1
            month = outcome.months.get((item.project_id, item.month))
            if month is None:
                month = outcome.months[(item.project_id, item.month)] = UsageDelta()
            month.used += 1
            outcome.accepted.append(item)
    return outcome
