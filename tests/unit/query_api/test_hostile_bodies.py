"""Hostile or unlucky query bodies: each is a 400 naming the field, never an exception
that would reach the client as a 500 (PostgreSQL refusing NUL, datetime overflowing)."""

import json
from typing import Any

import orjson
import pytest

from query_api.errors import MAX_DETAILS, ValidationFailed
from query_api.model import Timeseries
from query_api.parsing import MAX_DEPTH, decode_json, parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS
from query_api.timebuckets import buckets

RANGE = {"start": "2026-02-01T00:00:00.000Z", "end": "2026-02-03T23:59:59.999Z"}
METRIC = {"type": "metric", "projectId": "p", "event": "e", "dateRange": RANGE}
STEPS = [{"event": "a"}, {"event": "b"}]
FUNNEL = {"type": "funnel", "projectId": "p", "dateRange": RANGE, "steps": STEPS}


def details_of(body: bytes) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_query(decode_json(body), DEFAULT_MAX_RANGE_SECONDS)
    return list(caught.value.body["details"])


def fields_of(document: Any) -> list[str | None]:
    return [d["field"] for d in details_of(json.dumps(document).encode())]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({**METRIC, "event": "a\x00b"}, "event"),
        ({**METRIC, "projectId": "p\x00"}, "projectId"),
        ({**METRIC, "filter": {"key": "k\x00", "op": "is_set"}}, "filter.key"),
        ({**METRIC, "filter": {"key": "k", "op": "contains", "value": "\x00"}}, "filter.value"),
        (
            {**METRIC, "filters": [{"key": "k", "op": "in", "value": ["x\x00"]}]},
            "filters.0.value.0",
        ),
        ({**METRIC, "dateRange": {**RANGE, "start": "2026-02-01T00:00:00\x00"}}, "dateRange.start"),
        ({**FUNNEL, "steps": [{"event": "a"}, {"event": "\x00"}]}, "steps.1.event"),
        ({**METRIC, "type": "timeseries", "timezone": "UTC\x00"}, "timezone"),
    ],
)
def test_a_nul_character_anywhere_is_a_400_naming_where(document, field):
    assert fields_of(document) == [field]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "dateRange.start"),
        ("0001-01-01T00:00:00+05:00", "2026-01-01T00:00:00Z", "dateRange.start"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59.999-05:00", "dateRange.end"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "dateRange.end"),
        ("1969-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "dateRange.start"),
        ("2026-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "dateRange.end"),
        ("1971-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "dateRange.end"),  # over 20 years
    ],
)
@pytest.mark.parametrize("kind", ["metric", "timeseries", "breakdown"])
def test_dates_far_out_or_ranges_too_long_are_400(start, end, field, kind):
    document = {**METRIC, "type": kind, "breakdown": "k", "dateRange": {"start": start, "end": end}}
    if kind != "breakdown":
        del document["breakdown"]
    assert field in fields_of(document)


def test_the_widest_range_parses_and_its_edges_stay_inside_the_bounds():
    document = {**METRIC, "dateRange": {"start": "1970-01-01", "end": "1989-12-31T23:59:59.999Z"}}
    q = parse_query(document, DEFAULT_MAX_RANGE_SECONDS)
    assert q.range.previous().start.year == 1950  # the previous period still computes


@pytest.mark.parametrize("interval", ["minute", "hour", "day", "week", "month"])
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"])
def test_timeseries_at_the_bounds_in_any_zone_has_its_buckets(interval, zone):
    for span in (
        {"start": "1970-01-01T00:00:00Z", "end": "1970-01-01T23:59:59.999Z"},
        {"start": "2099-12-31T00:00:00+14:00", "end": "2099-12-31T23:59:59.999+14:00"},
    ):
        document = {**METRIC, "type": "timeseries", "timezone": zone, "interval": interval}
        q = parse_query({**document, "dateRange": span}, DEFAULT_MAX_RANGE_SECONDS)
        assert isinstance(q, Timeseries)
        labels, edges = buckets(q.range, q.interval, q.timezone)
        assert labels and edges[0] == q.range.start and edges[-1] == q.range.end


@pytest.mark.parametrize(
    "window",
    [
        {"value": 2**63, "unit": "second"},
        {"value": 2**63, "unit": "week"},
        {"value": 2**64 + 1, "unit": "day"},
        {"value": -1, "unit": "day"},
        {"value": 0, "unit": "minute"},
        {"value": 1.5, "unit": "day"},
        {"value": "1", "unit": "day"},
        {"value": True, "unit": "day"},
        {"value": 367, "unit": "day"},
        {"value": 53, "unit": "week"},
    ],
)
def test_conversion_windows_out_of_range_or_of_the_wrong_type_are_400(window):
    assert fields_of({**FUNNEL, "conversionWindow": window}) == ["conversionWindow.value"]


def test_a_funnel_may_span_a_year_at_most():
    long = {"start": "2024-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
    assert fields_of({**FUNNEL, "dateRange": long}) == ["dateRange"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"limit": 2**64}, "limit"),
        ({"limit": 1e308}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"breakdown": ["k"]}, "breakdown"),
        ({"dateRange": [RANGE["start"], RANGE["end"]]}, "dateRange"),
        ({"dateRange": {"start": 1, "end": None}}, "dateRange.start"),
        ({"filters": {"key": "k"}}, "filters"),
        ({"filter": [{"key": "k", "op": "is_set"}]}, "filter"),
        ({"metric": {"count": True}}, "metric"),
    ],
)
def test_wrong_types_and_sizes_are_400(change, field):
    assert field in fields_of({**METRIC, "type": "breakdown", "breakdown": "k", **change})


def test_deep_nesting_is_a_400_not_a_recursion_error():
    deep = b'{"type": "metric", "filter": {"key": "k", "op": "eq", "value": ' + b"[" * 1000
    details = details_of(deep + b"]" * 1000 + b"}}")
    assert details[0]["message"] == f"Nested more than {MAX_DEPTH} levels."


def test_an_error_body_stays_small_whatever_the_body_holds():
    filters = [{"key": "k" * 400, "op": "nope", "value": {"x": 1}} for _ in range(2000)]
    document = {**METRIC, "filters": filters, **{f"extra{n}" * 30: n for n in range(500)}}
    with pytest.raises(ValidationFailed) as caught:
        parse_query(document, DEFAULT_MAX_RANGE_SECONDS)
    body = caught.value.body
    assert len(body["details"]) == MAX_DETAILS
    assert body["omittedDetails"] > 0
    assert len(orjson.dumps(body)) < 64 * 1024
