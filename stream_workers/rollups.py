"""The rollup tables' bucket rules, as the workers use them (defined in contracts.buckets,
which the query API reads by too)."""

from contracts.buckets import (
    DEFAULT_BREAKDOWN_KEYS,
    EPOCH,
    GRANULARITIES,
    MAX_VALUE_CHARS,
    bucket_start,
    cover,
    local_day,
    local_days,
    value_text,
)

__all__ = [
    "DEFAULT_BREAKDOWN_KEYS",
    "EPOCH",
    "GRANULARITIES",
    "MAX_VALUE_CHARS",
    "bucket_start",
    "cover",
    "local_day",
    "local_days",
    "value_text",
]
