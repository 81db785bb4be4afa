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

Every list and name is bounded (the ``MAX_*`` below) and no list repeats an entry, so
what one tenant deploys cannot make the gateway's answers or the workers' state grow
without bound; the compiled JSON is at most ``MAX_CONFIG_BYTES``, well under what the
``control`` topic accepts (Kafka's default ``max.message.bytes``, about 1 MiB).
"""

import re
from typing import Any

import orjson
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from contracts.dashboards import dashboards_field
from contracts.events import MAX_EVENT_NAME, MAX_PROPERTIES

PROPERTY_TYPES = ("string", "number", "integer", "boolean", "object", "array", "any")
TRACKING_MODES = ("strict", "lenient")
MAX_BREAKDOWN_KEYS = 20
MAX_PLAN_EVENTS = 1000
MAX_ORIGINS = 100
MAX_KEY_LENGTH = 200
MAX_ORIGIN_LENGTH = 300  # scheme, a 253-character host name and a port
MAX_CONFIG_BYTES = 256 * 1024
# A breakdown key is part of an indexed rollup row: the workers roll up only keys of at
# most this many UTF-8 bytes (stream_workers/caps.py), so a deploy refuses longer ones.
MAX_BREAKDOWN_KEY_BYTES = 200
# The plan itself is five levels deep; saved chart queries a few more. orjson, which
# encodes the control record, stops at 255 levels.
MAX_CONFIG_DEPTH = 32
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _unique(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Must not repeat a value.")


def _breakdown_key(key: str) -> None:
    if "\x00" in key:
        raise ValidationError("Must not contain NUL characters.")
    if len(key.encode()) > MAX_BREAKDOWN_KEY_BYTES:
        raise ValidationError(f"Longer than {MAX_BREAKDOWN_KEY_BYTES} bytes of UTF-8.")


class EventSpecSchema(_Strict):
    properties = fields.Dict(
        keys=fields.String(validate=validate.Length(1, MAX_KEY_LENGTH)),
        values=fields.String(validate=validate.OneOf(PROPERTY_TYPES)),
        load_default=dict,
        validate=validate.Length(max=MAX_PROPERTIES),
    )
    required = fields.List(
        fields.String(validate=validate.Length(1, MAX_KEY_LENGTH)),
        load_default=list,
        validate=[validate.Length(max=MAX_PROPERTIES), _unique],
    )

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


def _origin(value: str) -> None:
    if not _ORIGIN.match(value):
        raise ValidationError("Must be an origin like https://example.com (no path).")


class ConfigSchema(_Strict):
    trackingPlan = fields.Nested(
        TrackingPlanSchema, load_default=lambda: {"mode": "lenient", "events": {}}
    )
    breakdownKeys = fields.List(
        fields.String(validate=[validate.Length(1, MAX_KEY_LENGTH), _breakdown_key]),
        load_default=list,
        validate=[validate.Length(max=MAX_BREAKDOWN_KEYS), _unique],
    )
    allowedOrigins = fields.List(
        fields.String(validate=[validate.Length(1, MAX_ORIGIN_LENGTH), _origin]),
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
    if nesting_depth(document) > MAX_CONFIG_DEPTH:
        raise ValidationError(f"Config must not be nested deeper than {MAX_CONFIG_DEPTH} levels.")
    loaded: dict[str, Any] = _CONFIG.load(document)
    return loaded


def config_size(config: dict[str, Any]) -> int:
    """Bytes of the compiled config as JSON, as the ``control`` record carries it."""
    return len(orjson.dumps(config))


def config_too_large(config: dict[str, Any]) -> str | None:
    """Why the config is too large to deploy, or ``None`` when it is not."""
    size = config_size(config)
    if size <= MAX_CONFIG_BYTES:
        return None
    return f"The compiled config is {size} bytes; the limit is {MAX_CONFIG_BYTES} bytes."


def nesting_depth(document: Any) -> int:
    """How many objects and arrays deep ``document`` goes (iterative: any depth is safe)."""
    deepest = 0
    stack: list[tuple[int, Any]] = [(0, document)]
    while stack:
        depth, value = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth + 1)
            items = value.values() if isinstance(value, dict) else value
            stack.extend((depth + 1, item) for item in items)
    return deepest
