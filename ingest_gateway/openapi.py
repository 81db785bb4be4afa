"""The gateway's OpenAPI document, generated from its marshmallow schemas (apispec)."""

from typing import Any

from apispec import APISpec
from marshmallow import Schema, fields

from common import openapi
from common.openapi import new_spec, ref, responses
from ingest_gateway.dropin.formats import FORMATS
from ingest_gateway.validation import MAX_EVENTS_PER_REQUEST, IncomingEventSchema, Timestamp

_PRODUCTS = {"segment": "Segment", "posthog": "PostHog", "mixpanel": "Mixpanel"}


class SuccessSchema(Schema):
    success = fields.Boolean(required=True)
    events = fields.Integer(required=True)


class ErrorSchema(Schema):
    error = fields.String(required=True)


class DetailSchema(openapi.DetailSchema):
    # Which event of the request the detail is about (null: the request as a whole).
    index = fields.Integer(required=True, allow_none=True)


class ValidationErrorSchema(openapi.ValidationErrorSchema):
    details = fields.List(fields.Nested(DetailSchema), required=True)


class EventLimitSchema(Schema):
    error = fields.String(required=True)
    code = fields.String(required=True)
    limit = fields.Integer(required=True)
    used = fields.Integer(required=True)
    remaining = fields.Integer(required=True)


class EnvelopeSchema(Schema):
    apiKey = fields.String(required=True)
    events = fields.List(fields.Nested(IncomingEventSchema), required=True)


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
    spec = new_spec("realanalytics ingest gateway", types={Timestamp: ("string", "date-time")})
    for name, schema in (
        ("Event", IncomingEventSchema),
        ("Envelope", EnvelopeSchema),
        ("Success", SuccessSchema),
        ("Error", ErrorSchema),
        ("ValidationError", ValidationErrorSchema),
        ("EventLimitExceeded", EventLimitSchema),
    ):
        spec.components.schema(name, schema=schema)
    events = {"type": "array", "items": ref("Event"), "minItems": 1}
    events["maxItems"] = MAX_EVENTS_PER_REQUEST
    body = {"oneOf": [ref("Event"), events, ref("Envelope")]}
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
                "responses": responses(
                    {
                        "200": ("Success", "Appended and acknowledged by Kafka"),
                        "400": ("ValidationError", "Invalid body or events"),
                        "401": ("Error", "Invalid API key"),
                        "403": ("Error", "Origin not allowed by the project's config"),
                        "408": ("Error", "The body did not arrive in time"),
                        "413": ("Error", "Payload too large"),
                        "415": ("ValidationError", "Unsupported Content-Encoding"),
                        "429": (
                            {"oneOf": [ref("EventLimitExceeded"), ref("Error")]},
                            "Rate limit (Retry-After) or monthly event limit exceeded",
                        ),
                        "503": (
                            "Error",
                            "Kafka could not acknowledge in time, or too many connections"
                            " (Retry-After)",
                        ),
                    }
                ),
            }
        },
    )
    _dropin_paths(spec)
    document = spec.to_dict()
    # apispec renders Length on a Dict as maxLength; for an object it is maxProperties.
    properties = document["components"]["schemas"]["Event"]["properties"]["properties"]
    properties["maxProperties"] = properties.pop("maxLength")
    return document
