"""Filters as SQL conditions: constant SQL text, every key and value a bound parameter.

On raw events a property is read as text (``properties ->> key``, as breakdown rollups
store it): ``eq``/``neq``/``in``/``not_in`` compare that text with the value's text (JSON
text for numbers and booleans); ``neq``/``not_in``/``not_contains``/``is_not_set`` include
events without the property; ``contains`` ignores case; ``gt``…``lte`` compare numbers
with number values (non-numbers never match) and text (byte order) with string values.
"""

from collections.abc import Sequence
from typing import Any

from contracts.buckets import value_text
from query_api.model import Filter

Condition = tuple[str, list[Any]]

_PROP = "(properties ->> %s::text)"
_NUMBER = (
    "(CASE WHEN jsonb_typeof(properties -> %s::text) = 'number'"
    " THEN (properties ->> %s::text)::numeric END)"
)
_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _text(value: Any) -> str:
    text = value_text(value)
    return "" if text is None else text


def raw_condition(f: Filter) -> Condition:
    k, op, v = f.key, f.op, f.value
    if op == "eq":
        return f"{_PROP} = %s", [k, _text(v)]
    if op == "neq":
        return f"{_PROP} IS DISTINCT FROM %s", [k, _text(v)]
    if op == "in":
        return f"{_PROP} = ANY(%s::text[])", [k, [_text(x) for x in v]]
    if op == "not_in":
        return f"NOT COALESCE({_PROP} = ANY(%s::text[]), false)", [k, [_text(x) for x in v]]
    if op == "contains":
        return f"strpos(lower({_PROP}), lower(%s)) > 0", [k, v]
    if op == "not_contains":
        return f"NOT COALESCE(strpos(lower({_PROP}), lower(%s)) > 0, false)", [k, v]
    if op == "is_set":
        return f"{_PROP} IS NOT NULL", [k]
    if op == "is_not_set":
        return f"{_PROP} IS NULL", [k]
    sign = _COMPARE[op]
    if isinstance(v, str):
        return f'{_PROP} COLLATE "C" {sign} %s', [k, v]
    return f"{_NUMBER} {sign} %s::numeric", [k, k, v]


def value_condition(f: Filter, column: str = "value") -> Condition:
    """The same filter on a breakdown rollup's stored value (planner.ROLLUP_OPS only)."""
    op, v = f.op, f.value
    if op == "eq":
        return f"{column} = %s", [_text(v)]
    if op == "neq":
        return f"{column} IS DISTINCT FROM %s", [_text(v)]
    if op == "in":
        return f"{column} = ANY(%s::text[])", [[_text(x) for x in v]]
    if op == "not_in":
        return f"NOT COALESCE({column} = ANY(%s::text[]), false)", [[_text(x) for x in v]]
    if op == "is_set":
        return f"{column} IS NOT NULL", []
    if op == "is_not_set":
        return f"{column} IS NULL", []
    raise ValueError(f"op {op!r} is not answerable from breakdown rollups")


def conjunction(conditions: Sequence[Condition]) -> Condition:
    """``a AND b AND …`` (``true`` when empty) with the parameters in order."""
    if not conditions:
        return "true", []
    text = " AND ".join(f"({c})" for c, _ in conditions)
    return text, [p for _, params in conditions for p in params]


def raw_filters(filters: Sequence[Filter]) -> Condition:
    return conjunction([raw_condition(f) for f in filters])


def value_filters(filters: Sequence[Filter]) -> Condition:
    return conjunction([value_condition(f) for f in filters])
