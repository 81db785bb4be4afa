"""Request body → a validated query (``model``), or the contract's 400 with every problem."""

from datetime import timedelta
from typing import Any

from marshmallow import ValidationError

from common.json_body import json_document
from contracts.validation import flatten_messages
from query_api.errors import ValidationFailed
from query_api.model import (
    WINDOW_UNITS,
    Breakdown,
    Filter,
    Funnel,
    Lifecycle,
    MetricQuery,
    Paths,
    Query,
    Range,
    Retention,
    Step,
    Timeseries,
)
from query_api.schemas import MAX_PERIODS, REQUEST_SCHEMAS
from query_api.timebuckets import buckets, default_interval

INCLUSIVE_END = timedelta(milliseconds=1)  # dateRange.end is the last millisecond counted
# The deepest a query nests is a funnel step's filter's list value (5 levels).
MAX_DEPTH = 16


def decode_json(body: bytes) -> Any:
    document = json_document(body, ValidationFailed)
    problem = unstorable(document)
    if problem is not None:
        raise ValidationFailed([problem])
    return document


def unstorable(document: Any) -> dict[str, Any] | None:
    """The first place a document nests deeper than MAX_DEPTH or holds a NUL character
    (PostgreSQL text cannot), as a detail; None when there is none. Walked with a stack,
    not recursion: a body may nest as deep as the JSON parser allows."""
    stack: list[tuple[str, int, Any]] = [("", 0, document)]
    while stack:
        path, depth, value = stack.pop()
        if depth > MAX_DEPTH:
            return {"field": path or None, "message": f"Nested more than {MAX_DEPTH} levels."}
        if isinstance(value, str) and "\x00" in value:
            return {"field": path or None, "message": "Must not contain NUL characters."}
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return {"field": path or None, "message": "Keys must not contain NUL."}
                stack.append((child, depth + 1, item))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}.{n}" if path else str(n), depth + 1, v) for n, v in enumerate(value)
            )
    return None


def _filters(data: dict[str, Any]) -> tuple[Filter, ...]:
    given = ([data["filter"]] if "filter" in data else []) + data.get("filters", [])
    return tuple(Filter(f["key"], f["op"], f["value"]) for f in given)


def parse_query(document: Any, max_range_seconds: dict[str, int]) -> Query:
    if not isinstance(document, dict):
        raise ValidationFailed([{"field": None, "message": "Body must be a JSON object."}])
    kind = document.get("type")
    schema_class = REQUEST_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema_class is None:
        known = ", ".join(REQUEST_SCHEMAS)
        raise ValidationFailed([{"field": "type", "message": f"Must be one of: {known}."}])
    try:
        data: dict[str, Any] = schema_class().load(document)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from exc
    span = Range(data["dateRange"]["start"], data["dateRange"]["end"] + INCLUSIVE_END)
    project, filters, bots = data["projectId"], _filters(data), data["includeBots"]
    if kind in ("retention", "paths", "lifecycle"):
        return _person_query(kind, data, span, filters)
    if kind == "timeseries":
        interval = data.get("interval") or default_interval(span.length)
        limit = max_range_seconds.get(interval)
        if limit is not None and span.length > timedelta(seconds=limit):
            raise ValidationFailed(
                [
                    {
                        "field": "dateRange",
                        "message": f"A range of {interval} buckets may span at most "
                        f"{limit} seconds; choose a coarser interval.",
                    }
                ]
            )
        return Timeseries(
            project, data["event"], span, data["metric"], interval, data["timezone"], filters, bots
        )
    if kind == "breakdown":
        return Breakdown(
            project,
            data["event"],
            span,
            data["metric"],
            data["breakdown"],
            data["limit"],
            filters,
            bots,
        )
    if kind == "metric":
        return MetricQuery(project, data["event"], span, data["metric"], filters, bots)
    window = data["conversionWindow"]
    steps = tuple(Step(s["event"], _filters(s)) for s in data["steps"])
    within = window["value"] * WINDOW_UNITS[window["unit"]]
    return Funnel(project, span, steps, within, filters, bots)


def _person_query(
    kind: str, data: dict[str, Any], span: Range, filters: tuple[Filter, ...]
) -> Query:
    project, bots, zone = data["projectId"], data["includeBots"], data["timezone"]
    if kind == "paths":
        return Paths(
            project,
            span,
            data["startEvent"],
            data["direction"],
            data["steps"],
            data["limit"],
            zone,
            filters,
            bots,
        )
    interval = data["interval"]
    periods = len(buckets(span, interval, zone)[0])
    if periods > MAX_PERIODS:
        raise ValidationFailed(
            [
                {
                    "field": "dateRange",
                    "message": f"The range holds {periods} {interval}s in {zone}; at most "
                    f"{MAX_PERIODS} are answered: choose a shorter range or a longer interval.",
                }
            ]
        )
    if kind == "retention":
        return Retention(
            project, span, data["startEvent"], data["returnEvent"], interval, zone, filters, bots
        )
    return Lifecycle(project, span, data["event"], interval, zone, filters, bots)
