"""The request's marshmallow schemas: one per query type, sharing the common fields.

They are also the source of the OpenAPI document (query_api/openapi.py).
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from query_api.model import DIRECTIONS, INTERVALS, METRICS, OPS, PERIODS, WINDOW_UNITS

MAX_FILTERS = 20
MAX_IN_VALUES = 100
MAX_KEY_CHARS = 500
MAX_EVENT_CHARS = 100
MAX_WINDOW = timedelta(days=366)
MAX_WINDOW_SECONDS = int(MAX_WINDOW.total_seconds())
# Every instant of a date range lies in [EARLIEST, LATEST): the arithmetic on it (the
# previous period, a zone's local days, the inclusive end) then never leaves what
# datetime and PostgreSQL can hold, whatever offset the client wrote.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# The longest range of any query (a month series' own cap), and of a funnel: its cost
# grows with the events it reads, and a year of them is what a funnel chart shows.
MAX_RANGE = timedelta(days=20 * 366)
MAX_FUNNEL_RANGE = timedelta(days=366)
# Retention's and lifecycle's periods (the range cut by the interval in the timezone): a
# triangle of 60 rows is past what a chart shows, and each period is one more group.
MAX_PERIODS = 60
MAX_PATH_STEPS = 5
MAX_PATH_LIMIT = 20

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


class Moment(fields.AwareDateTime):
    """An ISO 8601 date (no zone means UTC) in UTC, between EARLIEST and LATEST."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's own class attribute
        "bounds": f"Must be from {EARLIEST:%Y-%m-%d} up to {LATEST:%Y-%m-%d} (UTC).",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:  # year 1 with a positive offset, year 9999 with a negative
            raise self.make_error("bounds") from None
        if not EARLIEST <= utc < LATEST:
            raise self.make_error("bounds")
        return utc


class DateRangeSchema(StrictSchema):
    start = Moment(required=True)
    end = Moment(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" not in data or "end" not in data:
            return
        if data["end"] < data["start"]:
            raise ValidationError("end must not be before start.", "end")
        if data["end"] - data["start"] > MAX_RANGE:
            raise ValidationError(f"A range may span at most {MAX_RANGE.days} days.", "end")


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


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: marshmallow's own takes ``"yes"``, ``1`` and ``"on"``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class QueryBase(StrictSchema):
    type = fields.String(required=True)
    projectId = fields.String(required=True, validate=validate.Length(1, 100))
    dateRange = fields.Nested(DateRangeSchema, required=True)
    filter = fields.Nested(FilterSchema)
    filters = fields.List(fields.Nested(FilterSchema), validate=validate.Length(max=MAX_FILTERS))
    # Events flagged ``$bot`` by the workers count only when true (then read from raw).
    includeBots = StrictBoolean(load_default=False)


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
        # In whole seconds: a timedelta times 2**63 overflows, an int does not.
        seconds = int(unit.total_seconds()) if unit is not None else 0
        if "value" in data and data["value"] * seconds > MAX_WINDOW_SECONDS:
            raise ValidationError(
                f"A conversion window may be at most {MAX_WINDOW.days} days.", "value"
            )


def _within(days: timedelta, what: str) -> Any:
    """A schema check that the date range spans at most ``days``."""

    def check(self: Schema, data: dict[str, Any], **kwargs: Any) -> None:
        span = data.get("dateRange", {})
        if "start" in span and "end" in span and span["end"] - span["start"] > days:
            raise ValidationError(
                f"A {what}'s range may span at most {days.days} days.", "dateRange"
            )

    return validates_schema(check)


class FunnelSchema(QueryBase):
    type = fields.String(required=True, validate=validate.Equal("funnel"))
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(2, 10))
    conversionWindow = fields.Nested(WindowSchema, load_default=lambda: {"value": 1, "unit": "day"})

    @validates_schema
    def _funnel_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        span = data.get("dateRange", {})
        if "start" in span and "end" in span and span["end"] - span["start"] > MAX_FUNNEL_RANGE:
            raise ValidationError(
                f"A funnel's range may span at most {MAX_FUNNEL_RANGE.days} days.", "dateRange"
            )


class RetentionSchema(QueryBase):
    """At most MAX_PERIODS periods (checked when parsed: it depends on the timezone)."""

    type = fields.String(required=True, validate=validate.Equal("retention"))
    startEvent = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_CHARS))
    returnEvent = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_CHARS))
    interval = fields.String(load_default="day", validate=validate.OneOf(PERIODS))
    timezone = fields.String(load_default="UTC", validate=_known_zone)


class PathsSchema(QueryBase):
    type = fields.String(required=True, validate=validate.Equal("paths"))
    startEvent = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_CHARS))
    direction = fields.String(load_default="next", validate=validate.OneOf(DIRECTIONS))
    steps = fields.Integer(load_default=3, strict=True, validate=validate.Range(1, MAX_PATH_STEPS))
    limit = fields.Integer(load_default=10, strict=True, validate=validate.Range(1, MAX_PATH_LIMIT))
    # Paths do not depend on it (events are ordered by instant); accepted so one date
    # picker's body fits every card, and echoed.
    timezone = fields.String(load_default="UTC", validate=_known_zone)
    _range = _within(MAX_FUNNEL_RANGE, "path query")


class LifecycleSchema(QueryBase):
    """At most MAX_PERIODS periods (checked when parsed: it depends on the timezone)."""

    type = fields.String(required=True, validate=validate.Equal("lifecycle"))
    event = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_CHARS))
    interval = fields.String(load_default="day", validate=validate.OneOf(PERIODS))
    timezone = fields.String(load_default="UTC", validate=_known_zone)


REQUEST_SCHEMAS: dict[str, type[QueryBase]] = {
    "timeseries": TimeseriesSchema,
    "breakdown": BreakdownSchema,
    "metric": MetricSchema,
    "funnel": FunnelSchema,
    "retention": RetentionSchema,
    "paths": PathsSchema,
    "lifecycle": LifecycleSchema,
}
