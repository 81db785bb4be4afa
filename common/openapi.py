"""What every service's OpenAPI document is built with: the apispec document itself, the
error bodies the App API services share, and answers written as ``(schema, description)``.

Each service still describes its own routes (``<service>/openapi.py``), next to the
marshmallow schemas that validate them; a test holds each document to its router.
"""

from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields


class ErrorSchema(Schema):
    error = fields.String(required=True)
    code = fields.String()


class DetailSchema(Schema):
    field = fields.String(required=True, allow_none=True)
    message = fields.String(required=True)


class ValidationErrorSchema(Schema):
    """A 400's body: at most 100 details (``common.errors``' services and the gateway)."""

    error = fields.String(required=True)
    details = fields.List(fields.Nested(DetailSchema), required=True)
    # Present only when ``details`` was cut: how many were left out.
    omittedDetails = fields.Integer()


def new_spec(
    title: str,
    *,
    version: str = "1",
    openapi_version: str = "3.0.3",
    types: Mapping[type[fields.Field[Any]], tuple[str, str]] | None = None,
) -> APISpec:
    """An empty document whose components come from marshmallow schemas; ``types`` renders
    a service's own field classes as OpenAPI ``(type, format)``."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title=title, version=version, openapi_version=openapi_version, plugins=[plugin])
    for field_class, (kind, form) in (types or {}).items():
        plugin.map_to_openapi_type(field_class, kind, form)  # type: ignore[no-untyped-call]
    return spec


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


# An answer: the JSON body's schema (a component's name, an inline schema, or None for an
# answer described in words only) and its description.
Answer = tuple[str | dict[str, Any] | None, str]


def answer(schema: str | dict[str, Any] | None, description: str) -> dict[str, Any]:
    """One response object: the description, and the JSON body's schema if there is one."""
    if schema is None:
        return {"description": description}
    body = ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": body}}}


def responses(answers: Mapping[str, Answer]) -> dict[str, Any]:
    """An operation's ``responses``, from ``{status: (schema, description)}``."""
    return {
        status: answer(schema, description) for status, (schema, description) in answers.items()
    }
