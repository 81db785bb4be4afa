"""Retention, lifecycle and paths without a server: parsing, the statements' bound
parameters, and the answer shaping (the triangle, the periods, the Sankey's top-K)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from query_api.errors import ValidationFailed
from query_api.handlers import unique_by
from query_api.lifecycle import lifecycle_statement, periods, previous_start
from query_api.model import Lifecycle, MetricQuery, Paths, Range, Retention
from query_api.parsing import parse_query
from query_api.paths import paths_statement, sankey
from query_api.persons import BOT_FREE
from query_api.retention import cohorts, retention_statement
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS

RANGE = {"start": "2026-10-25T04:00:00Z", "end": "2026-11-08T04:59:59.999Z"}
HOSTILE = "'; DROP TABLE events; --"


def parse(document: dict[str, Any]) -> Any:
    return parse_query(
        {"projectId": "p", "dateRange": RANGE, **document}, DEFAULT_MAX_RANGE_SECONDS
    )


def test_retention_parses_with_defaults_and_bots_excluded():
    q = parse({"type": "retention", "startEvent": "a", "returnEvent": "b"})
    assert isinstance(q, Retention)
    assert (q.interval, q.timezone, q.include_bots) == ("day", "UTC", False)


def test_sixty_periods_at_most_counted_in_the_zone():
    # 2026-09-09 .. 2026-11-07 in New York: 60 local days; one more is refused.
    document = {"type": "lifecycle", "event": "a", "timezone": "America/New_York"}
    span = {"start": "2026-09-09T04:00:00Z", "end": "2026-11-08T04:59:59.999Z"}
    assert isinstance(parse({**document, "dateRange": span}), Lifecycle)
    span = {"start": "2026-09-08T04:00:00Z", "end": "2026-11-08T04:59:59.999Z"}
    with pytest.raises(ValidationFailed) as caught:
        parse({**document, "dateRange": span})
    assert caught.value.body["details"][0]["field"] == "dateRange"
    assert "61 days" in caught.value.body["details"][0]["message"]


@pytest.mark.parametrize("value", ["true", 1, 0, None, "yes"])
def test_include_bots_is_a_json_boolean(value):
    with pytest.raises(ValidationFailed):
        parse({"type": "metric", "event": "a", "includeBots": value})


def test_statements_bind_every_value_and_leave_bots_out_unless_included():
    filters = parse({"type": "metric", "event": "a", "filter": {"key": HOSTILE, "op": "is_set"}})
    r = Retention("p", filters.range, HOSTILE, "b", "week", "America/New_York", filters.filters)
    p = Paths("p", filters.range, HOSTILE, "previous", 3, 5, "UTC", filters.filters)
    life = Lifecycle("p", filters.range, HOSTILE, "day", "UTC", filters.filters, True)
    statements = [
        retention_statement(r, "pid")[:2],
        paths_statement(p, "pid"),
        lifecycle_statement(life, "pid")[:2],
    ]
    for sql, params in statements:
        assert HOSTILE not in sql and "{" not in sql
        assert HOSTILE in params and sql.count("%s") == len(params)
    assert BOT_FREE in statements[0][0] and BOT_FREE in statements[1][0]
    assert BOT_FREE not in statements[2][0]
    assert "ORDER BY ts DESC, event DESC LIMIT %s" in statements[1][0]  # walking back
    assert statements[1][1][-4:] == [0, HOSTILE, 3, HOSTILE]  # steps 1..3 from the start


def test_the_triangle_has_every_period_and_shrinks_by_one():
    labels = [datetime(2026, 11, d, tzinfo=UTC) for d in (1, 2, 3)]
    rows = [(0, 0, 5), (0, 2, 1), (2, 0, 4)]
    assert cohorts(labels, "UTC", rows) == [
        {"start": "2026-11-01T00:00:00+00:00", "size": 5, "returned": [0, 1]},
        {"start": "2026-11-02T00:00:00+00:00", "size": 0, "returned": [0]},
        {"start": "2026-11-03T00:00:00+00:00", "size": 4, "returned": []},
    ]


def test_lifecycle_periods_and_the_one_before_across_dst():
    labels = [datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)]
    rows = [(1, 3, 0, 0, 0), (1, 0, 0, 0, 2), (2, 0, 1, 1, 0)]
    assert periods(labels, "America/New_York", rows) == [
        {
            "t": "2026-11-01T00:00:00-04:00",
            "new": 3,
            "returning": 0,
            "resurrecting": 0,
            "dormant": 2,
        },
        {
            "t": "2026-11-02T00:00:00-05:00",
            "new": 0,
            "returning": 1,
            "resurrecting": 1,
            "dormant": 0,
        },
    ]
    # The day before 2026-11-02 in New York is 25 hours long (the clocks went back).
    assert previous_start(labels[1], "day", "America/New_York") == labels[0]
    assert previous_start(
        datetime(2026, 11, 2, 5, tzinfo=UTC), "week", "America/New_York"
    ) == datetime(2026, 10, 26, 4, tzinfo=UTC)


def test_sankey_keeps_the_top_events_per_step_and_folds_the_rest_into_other():
    rows = [
        (0, None, "s", 10),
        (1, "s", "a", 5),
        (1, "s", "b", 3),
        (1, "s", "c", 2),
        (2, "a", "a", 4),
        (2, "b", "c", 3),
        (2, "c", "c", 1),
    ]
    nodes, links = sankey(rows, 1)
    assert [(n["step"], n["event"], n["other"], n["persons"]) for n in nodes] == [
        (0, "s", False, 10),
        (1, "a", False, 5),
        (1, None, True, 5),
        (2, "a", False, 4),
        (2, None, True, 4),
    ]
    assert [(link["source"], link["target"], link["persons"]) for link in links] == [
        (0, 1, 5),
        (0, 2, 5),
        (1, 3, 4),
        (2, 4, 4),
    ]


def test_unique_by_says_persons_from_raw_and_ids_from_rollups():
    span = Range(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    users = MetricQuery("p", "e", span, "unique_users", ())
    assert unique_by(users, "raw") == "person"
    assert unique_by(users, "rollup") == "distinctId"
    assert unique_by(MetricQuery("p", "e", span, "count", ()), "raw") is None
    assert unique_by(Lifecycle("p", span, "e", "day", "UTC", ()), "raw") == "person"
