"""Reading metric names out of PromQL and out of a /metrics page (tests/support/metric_names)."""

import pytest

from tests.support.metric_names import (
    dashboard_expressions,
    exposed_metric_names,
    promql_metric_names,
    rule_expressions,
)


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("worker_consumer_lag", {"worker_consumer_lag"}),
        (
            'sum by (topic, partition) (rate(ingest_refused_total{reason!="x", p=~"a|b"}[5m]))',
            {"ingest_refused_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(append_seconds_bucket[$__rate_interval])))",
            {"append_seconds_bucket"},
        ),
        (
            "sum(rate(a_total[5m] offset 1h)) / ignoring (reason) group_left sum(b_total) > 1e3",
            {"a_total", "b_total"},
        ),
        ("max(x) > 0 and on (topic) y == bool 1 unless z", {"x", "y", "z"}),
        ('label_replace(up, "dst", "$1", "src", "(.*)") or vector(0)', {"up"}),
        ("sum(worker_lag) without (instance) * 0.5", {"worker_lag"}),
        ("topk(5, sum by (reason) (increase(q:rate5m[1h:5m])))", {"q:rate5m"}),
        ('x{label="by (y) on(z) {w}"}', {"x"}),
        ("3 * 2", set()),
    ],
)
def test_the_names_an_expression_reads(expression: str, names: set[str]) -> None:
    assert promql_metric_names(expression) == names


PAGE = """\
# HELP ingest_requests_total Ingest requests by status
# TYPE ingest_requests_total counter
ingest_requests_total{status="200"} 3.0
ingest_requests_created{status="200"} 1.7e9
# HELP ingest_refused_total Refused, by reason
# TYPE ingest_refused_total counter
# HELP ingest_append_seconds Append time
# TYPE ingest_append_seconds histogram
# HELP control_outbox_pending Pending
# TYPE control_outbox_pending gauge
control_outbox_pending 0.0
"""


def test_a_page_exposes_its_families_even_without_samples() -> None:
    names = exposed_metric_names(PAGE)
    assert {"ingest_refused_total", "control_outbox_pending", "ingest_requests_total"} <= names
    assert {"ingest_append_seconds_bucket", "ingest_append_seconds_count"} <= names
    assert "ingest_requests_created" in names  # a sample's own name
    assert "ingest_refused_bucket" not in names
    assert "worker_consumer_lag" not in names


def test_expressions_are_found_in_nested_panels_and_every_rule_group() -> None:
    dashboard = {
        "panels": [
            {"type": "row", "panels": [{"targets": [{"expr": "a"}, {"expr": ""}]}]},
            {"targets": [{"expr": "b"}]},
            {"type": "text"},
        ]
    }
    assert dashboard_expressions(dashboard) == ["a", "b"]
    rules = {"groups": [{"rules": [{"expr": "c"}]}, {"rules": [{"expr": "d"}, {"expr": "e"}]}]}
    assert rule_expressions(rules) == ["c", "d", "e"]
