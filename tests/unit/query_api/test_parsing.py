from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from query_api.errors import ValidationFailed
from query_api.model import Breakdown, Filter, Funnel, MetricQuery, Timeseries
from query_api.parsing import decode_json, parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS

SEED = {
    "type": "timeseries",
    "projectId": "my-project-slug",
    "event": "$pageview",
    "dateRange": {"start": "2026-02-01T00:00:00.000Z", "end": "2026-02-03T23:59:59.999Z"},
    "metric": "count",
    "filter": {"key": "$pathname", "op": "eq", "value": "/pricing"},
}


def parse(document: Any) -> Any:
    return parse_query(document, DEFAULT_MAX_RANGE_SECONDS)


def problems(document: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        parse(document)
    assert caught.value.body["error"] == "Validation failed"
    return caught.value.body["details"]


def test_the_seed_example_parses_with_an_inclusive_end_and_a_default_interval():
    q = parse(SEED)
    assert isinstance(q, Timeseries)
    assert q.range.start == datetime(2026, 2, 1, tzinfo=UTC)
    assert q.range.end == datetime(2026, 2, 4, tzinfo=UTC)
    assert (q.interval, q.timezone, q.metric) == ("hour", "UTC", "count")
    assert q.filters == (Filter("$pathname", "eq", "/pricing"),)


def test_every_type_parses():
    base = {k: SEED[k] for k in ("projectId", "dateRange")}
    b = parse({**base, "type": "breakdown", "event": "e", "breakdown": "$browser"})
    assert isinstance(b, Breakdown) and b.limit == 10
    m = parse({**base, "type": "metric", "event": "e", "metric": "sessions"})
    assert isinstance(m, MetricQuery) and m.metric == "sessions"
    f = parse(
        {
            **base,
            "type": "funnel",
            "steps": [{"event": "a"}, {"event": "b", "filters": [{"key": "k", "op": "is_set"}]}],
            "conversionWindow": {"value": 2, "unit": "hour"},
        }
    )
    assert isinstance(f, Funnel) and f.window == timedelta(hours=2)
    assert f.steps[1].filters == (Filter("k", "is_set", None),)


def test_naive_dates_are_utc():
    q = parse({**SEED, "dateRange": {"start": "2026-02-01T00:00:00", "end": "2026-02-01T05:00"}})
    assert q.range.start.tzinfo is not None and q.range.start == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "pie"}, "type"),
        ({"type": None}, "type"),
        ({"dateRange": {"start": "yesterday", "end": "2026-02-03T00:00:00Z"}}, "dateRange.start"),
        (
            {"dateRange": {"start": "2026-02-03T00:00:00Z", "end": "2026-02-01T00:00:00Z"}},
            "dateRange.end",
        ),
        (
            {
                "dateRange": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z"},
                "interval": "minute",
            },
            "dateRange",
        ),
        ({"interval": "fortnight"}, "interval"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"metric": "revenue"}, "metric"),
        ({"filter": {"key": "k", "op": "like", "value": "x"}}, "filter.op"),
        ({"filter": {"key": "k", "op": "eq", "value": {"a": 1}}}, "filter.value"),
        ({"filter": {"key": "k", "op": "in", "value": "x"}}, "filter.value"),
        ({"filter": {"key": "k", "op": "gt", "value": True}}, "filter.value"),
        ({"filter": {"key": "k", "op": "is_set", "value": 3}}, "filter.value"),
        ({"filter": {"key": "", "op": "is_set"}}, "filter.key"),
        ({"filters": [{"key": "k", "op": "contains", "value": 5}]}, "filters.0.value"),
        ({"event": 12}, "event"),
        ({"projectId": None}, "projectId"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_requests_are_400_with_the_field(change, field):
    details = problems({**SEED, **change})
    assert field in [d["field"] for d in details], details


def test_funnel_needs_two_to_ten_steps_and_a_known_window_unit():
    base = {k: SEED[k] for k in ("projectId", "dateRange")}
    assert problems({**base, "type": "funnel", "steps": [{"event": "a"}]})[0]["field"] == "steps"
    too_many = [{"event": str(n)} for n in range(11)]
    assert problems({**base, "type": "funnel", "steps": too_many})[0]["field"] == "steps"
    window = {"value": 1, "unit": "fortnight"}
    steps = [{"event": "a"}, {"event": "b"}]
    details = problems({**base, "type": "funnel", "steps": steps, "conversionWindow": window})
    assert details[0]["field"] == "conversionWindow.unit"


def test_breakdown_limit_must_be_a_positive_integer():
    base = {k: SEED[k] for k in ("projectId", "dateRange")}
    doc = {**base, "type": "breakdown", "event": "e", "breakdown": "k", "limit": "10"}
    assert problems(doc)[0]["field"] == "limit"


def test_bodies_that_are_not_json_objects():
    for body in (b"", b"{", b"[1]"):
        with pytest.raises(ValidationFailed):
            parse(decode_json(body))
