"""Which store answers a query exactly: rollups where they can, the raw events otherwise.

A rollup answers when every edge of the answer's parts lies on a bucket boundary of one
granularity (minute at worst; the coarsest that fits is read, so a UTC day series reads
day buckets, a New York one hour buckets, a Kolkata one 15-minute buckets) and every
filter is on one property key that breakdown rollups hold, with an op that a stored
value decides alone (eq, neq, in, not_in, is_set, is_not_set). Whether that key
was rolled up over the whole range is checked when the query runs (``queries.py``): the
breakdown rows of a covered bucket sum to its total. Pure functions, no I/O.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.buckets import GRANULARITIES, MAX_VALUE_CHARS, bucket_start, value_text
from query_api.model import Filter

ROLLUP_OPS = frozenset({"eq", "neq", "in", "not_in", "is_set", "is_not_set"})


@dataclass(frozen=True, slots=True)
class Plan:
    source: str  # "rollup" or "raw"
    # The rollup granularity read: every edge lies on one of its bucket boundaries.
    granularity: str | None = None
    # The breakdown key whose rollups answer the filters and/or the breakdown, if any.
    key: str | None = None


RAW = Plan("raw")


def coarsest(edges: Sequence[datetime]) -> str | None:
    """The widest granularity whose buckets tile every ``[edges[i], edges[i+1])`` exactly."""
    for name in reversed(GRANULARITIES):
        if all(bucket_start(e, name) == e.astimezone(UTC) for e in edges):
            return name
    return None


def rollup_value(value: object) -> str | None:
    """A filter value as ``breakdown_rollups.value`` holds it, or None when a stored value
    could not tell it apart from another (cut to MAX_VALUE_CHARS)."""
    text = value_text(value)
    return text if text is not None and len(text) < MAX_VALUE_CHARS else None


def filter_key(filters: Sequence[Filter]) -> tuple[bool, str | None]:
    """(answerable from breakdown rollups, the one key they are on)."""
    keys = {f.key for f in filters}
    if len(keys) > 1:
        return False, None
    for f in filters:
        if f.op not in ROLLUP_OPS:
            return False, None
        values = f.value if isinstance(f.value, list) else [f.value]
        if f.op not in ("is_set", "is_not_set") and any(rollup_value(v) is None for v in values):
            return False, None
    return True, next(iter(keys), None)


def plan(
    edges: Sequence[datetime], filters: Sequence[Filter], breakdown: str | None = None
) -> Plan:
    """The plan for the parts ``[edges[i], edges[i+1])``; ``breakdown`` groups by a key."""
    granularity = coarsest(edges)
    if granularity is None:
        return RAW
    answerable, key = filter_key(filters)
    if not answerable or (breakdown is not None and key not in (None, breakdown)):
        return RAW
    return Plan("rollup", granularity, breakdown or key)
