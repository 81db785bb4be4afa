"""Dashboards in a project's deployed config: validated on deploy, absent when not named."""

import pytest
from marshmallow import ValidationError

from contracts.config import load_config

OVERVIEW = {
    "name": "Overview",
    "charts": [
        {"title": "Views", "query": {"type": "timeseries", "event": "$pageview"}},
        {"title": "Sign-ups", "range": "30d", "query": {"type": "metric", "event": "signup"}},
    ],
}


def test_a_config_without_dashboards_loads_as_before() -> None:
    assert "dashboards" not in load_config({})


def test_saved_charts_get_a_default_range() -> None:
    loaded = load_config({"dashboards": [OVERVIEW]})
    charts = loaded["dashboards"][0]["charts"]
    assert [c["range"] for c in charts] == ["7d", "30d"]
    assert charts[0]["query"] == {"type": "timeseries", "event": "$pageview"}


@pytest.mark.parametrize(
    ("dashboards", "where"),
    [
        ([{"name": "A", "charts": [{"title": "x", "query": {"type": "pie"}}]}], "query"),
        (
            [
                {
                    "name": "A",
                    "charts": [{"title": "x", "query": {"type": "metric", "projectId": "p"}}],
                }
            ],
            "query",
        ),
        (
            [{"name": "A", "charts": [{"title": "x", "range": "1y", "query": {"type": "metric"}}]}],
            "range",
        ),
        ([{"name": "A", "charts": []}], "charts"),
        ([OVERVIEW, OVERVIEW], "dashboards"),
    ],
)
def test_invalid_dashboards_are_refused(dashboards: object, where: str) -> None:
    with pytest.raises(ValidationError) as raised:
        load_config({"dashboards": dashboards})
    assert where in str(raised.value.messages)
