"""A project's compiled config: what ``POST /api/deploy`` accepts and the ``control`` topic
carries (``contracts.control``), validated by the control plane and, locally, by the CLI.

    {"trackingPlan": {"mode": "strict" | "lenient",
                      "events": {"<event>": {"properties": {"<key>": "<type>", …},
                                             "required": ["<key>", …]}}},
     "breakdownKeys": ["<property key>", …],      # rolled up as breakdowns by the workers
     "allowedOrigins": ["https://example.com", …],  # browser origins; [] = any origin
     "retentionDays": 365,
     "dashboards": [ … ]}                # optional: saved charts, contracts/dashboards.py

Every field but ``dashboards`` has a default, so a loaded (stored, published) config is
always complete; ``dashboards`` is left out when absent so configs deployed before it
existed load unchanged.
Types: string, number, integer, boolean, object, array, any. In strict mode the gateway
refuses events not in the plan and properties of the wrong type; lenient mode accepts all.
"""

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from contracts.dashboards import dashboards_field
from contracts.events import MAX_EVENT_NAME, MAX_PROPERTIES

PROPERTY_TYPES = ("string", "number", "integer", "boolean", "object", "array", "any")
TRACKING_MODES = ("strict", "lenient")
MAX_BREAKDOWN_KEYS = 20
MAX_PLAN_EVENTS = 1000
MAX_ORIGINS = 100
MAX_KEY_LENGTH = 200
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class EventSpecSchema(_Strict):
    properties = fields.Dict(
        keys=fields.String(validate=validate.Length(1, MAX_KEY_LENGTH)),
        values=fields.String(validate=validate.OneOf(PROPERTY_TYPES)),
        load_default=dict,
        validate=validate.Length(max=MAX_PROPERTIES),
    )
    required = fields.List(fields.String(), load_default=list)

    @validates_schema
    def required_are_declared(self, data: dict[str, Any], **_: Any) -> None:
        unknown = sorted(set(data.get("required", [])) - set(data.get("properties", {})))
        if unknown:
            raise ValidationError(f"Not declared in properties: {', '.join(unknown)}.", "required")


class TrackingPlanSchema(_Strict):
    mode = fields.String(load_default="lenient", validate=validate.OneOf(TRACKING_MODES))
    events = fields.Dict(
        keys=fields.String(validate=validate.Length(1, MAX_EVENT_NAME)),
        values=fields.Nested(EventSpecSchema),
        load_default=dict,
        validate=validate.Length(max=MAX_PLAN_EVENTS),
    )


def _unique(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Must not repeat a value.")


def _origin(value: str) -> None:
    if not _ORIGIN.match(value):
        raise ValidationError("Must be an origin like https://example.com (no path).")


class ConfigSchema(_Strict):
    trackingPlan = fields.Nested(
        TrackingPlanSchema, load_default=lambda: {"mode": "lenient", "events": {}}
    )
    breakdownKeys = fields.List(
        fields.String(validate=validate.Length(1, MAX_KEY_LENGTH)),
        load_default=list,
        validate=[validate.Length(max=MAX_BREAKDOWN_KEYS), _unique],
    )
    allowedOrigins = fields.List(
        fields.String(validate=_origin),
        load_default=list,
        validate=[validate.Length(max=MAX_ORIGINS), _unique],
    )
    retentionDays = fields.Integer(
        load_default=365, strict=True, validate=validate.Range(min=1, max=3650)
    )
    dashboards = dashboards_field()


_CONFIG = ConfigSchema()


def load_config(document: Any) -> dict[str, Any]:
    """The complete config, or ``ValidationError`` (its ``messages`` say where)."""
    if not isinstance(document, dict):
        raise ValidationError("Config must be an object.")
    loaded: dict[str, Any] = _CONFIG.load(document)
    return loaded
