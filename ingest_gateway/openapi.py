"""The gateway's OpenAPI document, generated from its marshmallow schemas (apispec)."""

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from ingest_gateway.dropin.formats import FORMATS
from ingest_gateway.validation import MAX_EVENTS_PER_REQUEST, IncomingEventSchema, Timestamp

_PRODUCTS = {"segment": "Segment", "posthog": "PostHog", "mixpanel": "Mixpanel"}


class SuccessSchema(Schema):
    success = fields.Boolean(required=True)
    events = fields.Integer(required=True)


class ErrorSchema(Schema):
    error = fields.String(required=True)


class DetailSchema(Schema):
    index = fields.Integer(required=True, allow_none=True)
    field = fields.String(required=True, allow_none=True)
    message = fields.String(required=True)


class ValidationErrorSchema(Schema):
    error = fields.String(required=True)
    details = fields.List(fields.Nested(DetailSchema), required=True)
    # Present only when ``details`` was cut (at most 100 are listed): how many there were.
    omittedDetails = fields.Integer()


class EventLimitSchema(Schema):
    error = fields.String(required=True)
    code = fields.String(required=True)
    limit = fields.Integer(required=True)
    used = fields.Integer(required=True)
    remaining = fields.Integer(required=True)


class EnvelopeSchema(Schema):
    apiKey = fields.String(required=True)
    events = fields.List(fields.Nested(IncomingEventSchema), required=True)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _dropin_paths(spec: APISpec) -> None:
    """Each drop-in format's routes: the product's own body and answers, which its clients
    send and read (docs/dropin-<format>.md), so described here only in words."""
    for wire_format in FORMATS:
        product = _PRODUCTS.get(wire_format.name, wire_format.name)
        guide = "docs/dropin.md"
        for path in wire_format.paths:
            spec.path(
                path=path,
                operations={
                    "post": {
                        "summary": f"{product}'s tracking call, as {product}'s clients send it",
                        "description": f"The body and the answers are {product}'s ({guide}).",
                        "tags": ["drop-in"],
                        "requestBody": {
                            "required": True,
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        "responses": {
                            "200": {"description": "Appended and acknowledged by Kafka"},
                            "4XX": {"description": f"Refused, in {product}'s error shape"},
                            "503": {"description": "Kafka could not acknowledge (Retry-After)"},
                        },
                    }
                },
            )


def build_spec() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="realanalytics ingest gateway",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
    )
    plugin.map_to_openapi_type(Timestamp, "string", "date-time")  # type: ignore[no-untyped-call]
    for name, schema in (
        ("Event", IncomingEventSchema),
        ("Envelope", EnvelopeSchema),
        ("Success", SuccessSchema),
        ("Error", ErrorSchema),
        ("ValidationError", ValidationErrorSchema),
        ("EventLimitExceeded", EventLimitSchema),
    ):
        spec.components.schema(name, schema=schema)
    events = {"type": "array", "items": _ref("Event"), "minItems": 1}
    events["maxItems"] = MAX_EVENTS_PER_REQUEST
    body = {"oneOf": [_ref("Event"), events, _ref("Envelope")]}
    spec.path(
        path="/",
        operations={
            "post": {
                "summary": "Send events (a single event, an array of 1-100, or an envelope)",
                "parameters": [{"name": "X-API-Key", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": body},
                        "text/plain": {"schema": body},
                    },
                },
                "responses": {
                    "200": _json(_ref("Success"), "Appended and acknowledged by Kafka"),
                    "400": _json(_ref("ValidationError"), "Invalid body or events"),
                    "401": _json(_ref("Error"), "Invalid API key"),
                    "403": _json(_ref("Error"), "Origin not allowed by the project's config"),
                    "408": _json(_ref("Error"), "The body did not arrive in time"),
                    "413": _json(_ref("Error"), "Payload too large"),
                    "415": _json(_ref("ValidationError"), "Unsupported Content-Encoding"),
                    "429": _json(
                        {"oneOf": [_ref("EventLimitExceeded"), _ref("Error")]},
                        "Rate limit (Retry-After) or monthly event limit exceeded",
                    ),
                    "503": _json(
                        _ref("Error"),
                        "Kafka could not acknowledge in time, or too many connections"
                        " (Retry-After)",
                    ),
                },
            }
        },
    )
    _dropin_paths(spec)
    document = spec.to_dict()
    # apispec renders Length on a Dict as maxLength; for an object it is maxProperties.
    properties = document["components"]["schemas"]["Event"]["properties"]["properties"]
    properties["maxProperties"] = properties.pop("maxLength")
    return document
