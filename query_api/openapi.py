"""The OpenAPI 3.1 document of the query API, generated from its marshmallow schemas.

Request schemas are the ones that validate (``schemas.py``); the answers are described
here, the same shapes the handlers return, so a test can hold every answer to them.
"""

from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from marshmallow import Schema, fields, validate

from common import openapi
from common.openapi import DetailSchema, new_spec, responses
from query_api.model import DIRECTIONS, INTERVALS, PERIODS
from query_api.schemas import REQUEST_SCHEMAS


class FreshnessSchema(Schema):
    watermark = fields.DateTime(allow_none=True, required=True)
    newest = fields.DateTime(allow_none=True, required=True)
    secondsBehind = fields.Float(allow_none=True, required=True)
    partitions = fields.Integer(required=True)


class MetaSchema(Schema):
    source = fields.String(required=True, validate=validate.OneOf(["rollup", "raw"]))
    rollup = fields.String(
        allow_none=True, required=True, validate=validate.OneOf(["minute", "15min", "hour", "day"])
    )
    # The first/last part's sliver inside a minute was read from the raw store.
    rawEdges = fields.Boolean(required=True)
    # Whether events flagged $bot were counted (only with includeBots: true).
    bots = fields.String(required=True, validate=validate.OneOf(["excluded", "included"]))
    # What unique counts count: persons (merged ids, from raw) or distinct ids (rollups);
    # null when the answer counts no users.
    uniqueBy = fields.String(
        allow_none=True, required=True, validate=validate.OneOf(["person", "distinctId"])
    )
    freshness = fields.Nested(FreshnessSchema, required=True)


class PointSchema(Schema):
    t = fields.String(required=True, metadata={"format": "date-time"})
    value = fields.Integer(required=True)


class TimeseriesAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("timeseries"))
    interval = fields.String(required=True, validate=validate.OneOf(INTERVALS))
    timezone = fields.String(required=True)
    data = fields.List(fields.Nested(PointSchema), required=True)
    meta = fields.Nested(MetaSchema, required=True)


class GroupSchema(Schema):
    key = fields.String(allow_none=True, required=True)
    value = fields.Integer(required=True)


class BreakdownAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("breakdown"))
    breakdown = fields.String(required=True)
    data = fields.List(fields.Nested(GroupSchema), required=True)
    other = fields.Integer(required=True)
    meta = fields.Nested(MetaSchema, required=True)


class MetricAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("metric"))
    value = fields.Integer(required=True)
    previous = fields.Integer(required=True)
    meta = fields.Nested(MetaSchema, required=True)


class FunnelStepSchema(Schema):
    event = fields.String(required=True)
    users = fields.Integer(required=True)
    conversionFromFirst = fields.Float(required=True)
    conversionFromPrevious = fields.Float(required=True)
    medianSecondsToConvert = fields.Float(allow_none=True, required=True)


class FunnelAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("funnel"))
    steps = fields.List(fields.Nested(FunnelStepSchema), required=True)
    meta = fields.Nested(MetaSchema, required=True)


class CohortSchema(Schema):
    start = fields.String(required=True, metadata={"format": "date-time"})
    size = fields.Integer(required=True)
    # returned[k]: persons of the cohort who did the return event k + 1 periods later.
    returned = fields.List(fields.Integer(), required=True)


class RetentionAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("retention"))
    interval = fields.String(required=True, validate=validate.OneOf(PERIODS))
    timezone = fields.String(required=True)
    cohorts = fields.List(fields.Nested(CohortSchema), required=True)
    meta = fields.Nested(MetaSchema, required=True)


class PathNodeSchema(Schema):
    step = fields.Integer(required=True)
    # null for a step's "Other" node (every event past the step's top `limit`).
    event = fields.String(allow_none=True, required=True)
    other = fields.Boolean(required=True)
    persons = fields.Integer(required=True)


class PathLinkSchema(Schema):
    # Indexes into nodes.
    source = fields.Integer(required=True)
    target = fields.Integer(required=True)
    persons = fields.Integer(required=True)


class PathsAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("paths"))
    startEvent = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    timezone = fields.String(required=True)
    nodes = fields.List(fields.Nested(PathNodeSchema), required=True)
    links = fields.List(fields.Nested(PathLinkSchema), required=True)
    meta = fields.Nested(MetaSchema, required=True)


class LifecyclePointSchema(Schema):
    t = fields.String(required=True, metadata={"format": "date-time"})
    new = fields.Integer(required=True)
    returning = fields.Integer(required=True)
    resurrecting = fields.Integer(required=True)
    # Active in the previous period, not in this one (a positive count).
    dormant = fields.Integer(required=True)


class LifecycleAnswerSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("lifecycle"))
    event = fields.String(required=True)
    interval = fields.String(required=True, validate=validate.OneOf(PERIODS))
    timezone = fields.String(required=True)
    data = fields.List(fields.Nested(LifecyclePointSchema), required=True)
    meta = fields.Nested(MetaSchema, required=True)


class ErrorSchema(openapi.ErrorSchema):
    """Every refusal's body. ``code``: QUERY_CONCURRENCY_LIMIT (429); QUERY_TIMEOUT,
    DATABASE_UNAVAILABLE, DATABASE_BUSY or REDIS_UNAVAILABLE (503)."""

    details = fields.List(fields.Nested(DetailSchema))
    # How many details past the first 100 were left out.
    omittedDetails = fields.Integer()


ANSWER_SCHEMAS: dict[str, type[Schema]] = {
    "timeseries": TimeseriesAnswerSchema,
    "breakdown": BreakdownAnswerSchema,
    "metric": MetricAnswerSchema,
    "funnel": FunnelAnswerSchema,
    "retention": RetentionAnswerSchema,
    "paths": PathsAnswerSchema,
    "lifecycle": LifecycleAnswerSchema,
}


def _name(schema: type[Schema]) -> str:
    return schema.__name__.removesuffix("Schema")


def _one_of(schemas: Mapping[str, type[Schema]]) -> dict[str, Any]:
    refs = {kind: f"#/components/schemas/{_name(s)}" for kind, s in schemas.items()}
    return {
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": "type", "mapping": refs},
    }


def build_spec(prefix: str) -> dict[str, Any]:
    spec = new_spec("realanalytics query API", version="1.0.0", openapi_version="3.1.0")
    every: list[type[Schema]] = [*REQUEST_SCHEMAS.values(), *ANSWER_SCHEMAS.values(), ErrorSchema]
    for schema in every:
        spec.components.schema(_name(schema), schema=schema)
    spec.path(
        path=prefix,
        operations={
            "post": {
                "summary": "Answer a dashboard query (timeseries, breakdown, metric, funnel, "
                "retention, paths, lifecycle)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _one_of(REQUEST_SCHEMAS)}},
                },
                "responses": responses(
                    {
                        "200": (
                            _one_of(ANSWER_SCHEMAS),
                            "The answer, with meta (source, rollup, bots, uniqueBy, freshness)",
                        ),
                        "400": ("Error", "Validation failed"),
                        "401": ("Error", "No valid session or token"),
                        "403": ("Error", "Not a member, or no such project"),
                        "413": ("Error", "Body over 256 KiB"),
                        "429": (
                            "Error",
                            "Too many concurrent queries of the project "
                            "(QUERY_CONCURRENCY_LIMIT); see Retry-After",
                        ),
                        "503": (
                            "Error",
                            "Query timed out (QUERY_TIMEOUT), or PostgreSQL or Redis is "
                            "unavailable (DATABASE_UNAVAILABLE, DATABASE_BUSY, "
                            "REDIS_UNAVAILABLE); see Retry-After",
                        ),
                    }
                ),
            }
        },
    )
    _operational_paths(spec, prefix)
    return spec.to_dict()


def _operational_paths(spec: APISpec, prefix: str) -> None:
    """The routes beside the query: this document, liveness, readiness, metrics."""
    status = {
        "type": "object",
        "properties": {"status": {"type": "string"}},
        "required": ["status"],
    }
    ready = {"type": "object", "additionalProperties": {"type": "boolean"}}
    gets = {
        "/openapi.json": ("This OpenAPI document", {"application/json": {"schema": {}}}, {}),
        "/health": ("The process answers", {"application/json": {"schema": status}}, {}),
        "/ready": (
            "PostgreSQL and Redis answer (200), or which does not (503)",
            {"application/json": {"schema": ready}},
            {
                "503": {
                    "description": "Not ready",
                    "content": {"application/json": {"schema": ready}},
                }
            },
        ),
        "/metrics": ("Prometheus metrics", {"text/plain": {"schema": {"type": "string"}}}, {}),
    }
    for path, (summary, content, others) in gets.items():
        responses = {"200": {"description": summary, "content": content}, **others}
        spec.path(
            path=f"{prefix}{path}", operations={"get": {"summary": summary, "responses": responses}}
        )
