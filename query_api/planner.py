"""Which store answers a query exactly: rollups where they can, the raw events otherwise.

A rollup answers when every edge of the answer's parts lies on a bucket boundary of one
granularity (minute at worst; the coarsest that fits is read, so a UTC day series reads
day buckets, a New York one hour buckets, a Kolkata one 15-minute buckets) and every
filter is on one property key that breakdown rollups hold, with an op that a stored
value decides alone (eq, neq, in, not_in, is_set, is_not_set). A timeseries or metric
whose first or last edge is inside a minute reads rollups between the whole minutes and
the raw store for the two slivers outside them. Whether that key
was rolled up over the whole range is checked when the query runs (``queries.py``): the
breakdown rows of a covered bucket sum to its total. Pure functions, no I/O.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from contracts.buckets import EPOCH, GRANULARITIES, MAX_VALUE_CHARS, bucket_start, value_text
from query_api.model import Filter

ROLLUP_OPS = frozenset({"eq", "neq", "in", "not_in", "is_set", "is_not_set"})


@dataclass(frozen=True, slots=True)
class Plan:
    source: str  # "rollup" or "raw"
    # The rollup granularity read: every edge lies on one of its bucket boundaries.
    granularity: str | None = None
    # The breakdown key whose rollups answer the filters and/or the breakdown, if any.
    key: str | None = None
    # The edges the rollups are read between; when the answer's first or last edge is
    # inside a minute, these are trimmed to whole minutes and the raw store adds the rest.
    rollup_edges: tuple[datetime, ...] = ()
    raw_edges: bool = False


RAW = Plan("raw")
ZERO = timedelta(0)


def coarsest(edges: Sequence[datetime]) -> str | None:
    """The widest granularity whose buckets tile every ``[edges[i], edges[i+1])`` exactly."""
    for name in reversed(GRANULARITIES):
        width = GRANULARITIES[name]
        if all((e - EPOCH) % width == ZERO for e in edges):  # on the epoch-aligned grid
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
    answerable, key = filter_key(filters)
    if not answerable or (breakdown is not None and key not in (None, breakdown)):
        return RAW
    granularity = coarsest(edges)
    if granularity is not None:
        return Plan("rollup", granularity, breakdown or key, tuple(edges))
    inner = trimmed(edges) if breakdown is None else None
    granularity = coarsest(inner) if inner else None
    if inner is None or granularity is None:
        return RAW
    return Plan("rollup", granularity, key, inner, raw_edges=True)


def trimmed(edges: Sequence[datetime]) -> tuple[datetime, ...] | None:
    """The edges with the first moved up and the last moved down to whole minutes (a
    "last 24 hours" range ends at an arbitrary now), or None when nothing would be left."""
    minute = GRANULARITIES["minute"]
    first = bucket_start(edges[0], "minute")
    first = first if first == edges[0] else first + minute
    last = bucket_start(edges[-1], "minute")
    inner = (first, *edges[1:-1], last)
    if first >= last or any(b < a for a, b in pairwise(inner)):
        return None
    return inner
