"""Dashboards a project's deployed config may name: each a list of saved queries that the
dashboard page renders as a grid of charts.

    "dashboards": [{"name": "Overview",
                    "charts": [{"title": "Page views", "range": "7d",
                                "query": {"type": "timeseries", "event": "$pageview",
                                          "interval": "day"}}, …]}]

A saved query is a ``POST /api/query`` body without ``projectId`` and ``dateRange``: the
page adds the project being viewed and the chart's ``range`` preset, ending now. The
query API validates the rest when the chart runs, so a saved query written for a newer
query API still deploys.
"""

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

QUERY_TYPES = ("timeseries", "breakdown", "metric", "funnel")
RANGE_PRESETS = ("1h", "24h", "7d", "30d", "90d")
MAX_DASHBOARDS = 50
MAX_CHARTS = 24
_FILLED_BY_THE_PAGE = ("projectId", "dateRange")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ChartSchema(_Strict):
    title = fields.String(required=True, validate=validate.Length(1, 200))
    range = fields.String(load_default="7d", validate=validate.OneOf(RANGE_PRESETS))
    query = fields.Dict(keys=fields.String(), required=True)

    @validates("query")
    def saved_query(self, query: dict[str, Any], **_: Any) -> None:
        if query.get("type") not in QUERY_TYPES:
            raise ValidationError(f"type must be one of: {', '.join(QUERY_TYPES)}.")
        named = [k for k in _FILLED_BY_THE_PAGE if k in query]
        if named:
            raise ValidationError(f"Must not hold {', '.join(named)}: the page fills them in.")


class DashboardSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    charts = fields.List(
        fields.Nested(ChartSchema), required=True, validate=validate.Length(1, MAX_CHARTS)
    )


def _unique_names(dashboards: list[dict[str, Any]]) -> None:
    names = [d.get("name") for d in dashboards]
    if len(set(names)) != len(names):
        raise ValidationError("Dashboard names must be unique.")


def dashboards_field() -> "fields.List[Any]":
    """The config's optional ``dashboards`` field."""
    return fields.List(
        fields.Nested(DashboardSchema),
        validate=[validate.Length(max=MAX_DASHBOARDS), _unique_names],
    )
