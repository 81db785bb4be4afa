"""The request's marshmallow schemas: one per query type, sharing the common fields.

They are also the source of the OpenAPI document (query_api/openapi.py).
"""

from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from query_api.model import INTERVALS, METRICS, OPS, WINDOW_UNITS

MAX_FILTERS = 20
MAX_IN_VALUES = 100
MAX_KEY_CHARS = 500
MAX_EVENT_CHARS = 100
MAX_WINDOW = timedelta(days=366)

SCALAR_OPS = ("eq", "neq")
TEXT_OPS = ("contains", "not_contains")
ORDER_OPS = ("gt", "gte", "lt", "lte")
LIST_OPS = ("in", "not_in")
PRESENCE_OPS = ("is_set", "is_not_set")


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _value_problem(op: str, value: Any) -> str | None:
    """Why ``value`` does not fit ``op``, or None."""
    if op in PRESENCE_OPS:
        return None if value is None else f"'{op}' takes no value."
    if op in SCALAR_OPS and not _scalar(value):
        return f"'{op}' needs a string, number or boolean value."
    if op in TEXT_OPS and not (isinstance(value, str) and value):
        return f"'{op}' needs a non-empty string value."
    if op in ORDER_OPS and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        return f"'{op}' needs a number or string value."
    if op in LIST_OPS:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            return f"'{op}' needs a list of 1 to {MAX_IN_VALUES} values."
        if not all(_scalar(v) for v in value):
            return f"'{op}' values must be strings, numbers or booleans."
    return None


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class FilterSchema(StrictSchema):
    key = fields.String(required=True, validate=validate.Length(1, MAX_KEY_CHARS))
    op = fields.String(required=True, validate=validate.OneOf(OPS))
    value = fields.Raw(allow_none=True, load_default=None)

    @validates_schema
    def _value_fits_op(self, data: dict[str, Any], **kwargs: Any) -> None:
        op = data.get("op")
        if op in OPS:
            problem = _value_problem(op, data.get("value"))
            if problem:
                raise ValidationError(problem, "value")


class DateRangeSchema(StrictSchema):
    start = fields.AwareDateTime(required=True, default_timezone=UTC)
    end = fields.AwareDateTime(required=True, default_timezone=UTC)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" in data and "end" in data and data["end"] < data["start"]:
            raise ValidationError("end must not be before start.", "end")


def _known_zone(name: str) -> None:
    if name not in _zones():
        raise ValidationError("Unknown IANA timezone.")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("Unknown IANA timezone.") from exc


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


class QueryBase(StrictSchema):
    type = fields.String(required=True)
    projectId = fields.String(required=True, validate=validate.Length(1, 100))
    dateRange = fields.Nested(DateRangeSchema, required=True)
    filter = fields.Nested(FilterSchema)
    filters = fields.List(fields.Nested(FilterSchema), validate=validate.Length(max=MAX_FILTERS))


class EventQueryBase(QueryBase):
    event = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_CHARS))
    metric = fields.String(load_default="count", validate=validate.OneOf(METRICS))


class TimeseriesSchema(EventQueryBase):
    type = fields.String(required=True, validate=validate.Equal("timeseries"))
    interval = fields.String(validate=validate.OneOf(INTERVALS))
    timezone = fields.String(load_default="UTC", validate=_known_zone)


class BreakdownSchema(EventQueryBase):
    type = fields.String(required=True, validate=validate.Equal("breakdown"))
    breakdown = fields.String(required=True, validate=validate.Length(1, MAX_KEY_CHARS))
    limit = fields.Integer(load_default=10, strict=True, validate=validate.Range(1, 100))


class MetricSchema(EventQueryBase):
    type = fields.String(required=True, validate=validate.Equal("metric"))


class StepSchema(StrictSchema):
    event = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_CHARS))
    filter = fields.Nested(FilterSchema)
    filters = fields.List(fields.Nested(FilterSchema), validate=validate.Length(max=MAX_FILTERS))


class WindowSchema(StrictSchema):
    value = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    unit = fields.String(required=True, validate=validate.OneOf(tuple(WINDOW_UNITS)))

    @validates_schema
    def _at_most_a_year(self, data: dict[str, Any], **kwargs: Any) -> None:
        unit = WINDOW_UNITS.get(data.get("unit", ""))
        if unit is not None and "value" in data and data["value"] * unit > MAX_WINDOW:
            raise ValidationError("A conversion window may be at most 366 days.", "value")


class FunnelSchema(QueryBase):
    type = fields.String(required=True, validate=validate.Equal("funnel"))
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(2, 10))
    conversionWindow = fields.Nested(WindowSchema, load_default=lambda: {"value": 1, "unit": "day"})


REQUEST_SCHEMAS: dict[str, type[QueryBase]] = {
    "timeseries": TimeseriesSchema,
    "breakdown": BreakdownSchema,
    "metric": MetricSchema,
    "funnel": FunnelSchema,
}
