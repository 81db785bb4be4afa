"""Request bodies: JSON decoding and the marshmallow schemas of every write endpoint.

Problems become ``details`` entries ``{"field": "a.b", "message": "…"}`` (``field`` is
``null`` when the body as a whole is wrong), as the gateway reports them.
"""

import json
from collections import Counter
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from common.json_body import json_document
from contracts.erasure import MAX_DISTINCT_ID_CHARS, MAX_DISTINCT_IDS
from contracts.validation import flatten_messages
from control_plane.errors import ValidationFailed
from control_plane.password_policy import MAX_LENGTH as MAX_PASSWORD
from control_plane.password_policy import MIN_LENGTH as MIN_PASSWORD

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class SignupSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(3, 254))
    password = fields.String(required=True, validate=validate.Length(MIN_PASSWORD, MAX_PASSWORD))


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(1, 254))
    password = fields.String(required=True, validate=validate.Length(1, MAX_PASSWORD))


class TokenSchema(StrictSchema):
    """A one-time code from a mail: confirm an address, accept an invitation."""

    token = fields.String(required=True, validate=validate.Length(1, 200))


class ResetRequestSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(3, 254))


class ResetConfirmSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(1, 200))
    password = fields.String(required=True, validate=validate.Length(MIN_PASSWORD, MAX_PASSWORD))


class ProjectCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    slug = fields.String(
        required=True,
        validate=validate.Regexp(
            SLUG_PATTERN,
            error="3-64 characters: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit.",
        ),
    )
    # Absent: the default plan. Only operators may name another (403 otherwise).
    plan = fields.String(load_default=None, validate=validate.Length(1, 50))


class ProjectUpdateSchema(StrictSchema):
    """``PATCH /api/projects/{ref}`` (owners): what is absent stays as it is. The operators'
    maximum retention is checked by the handler (control_plane/retention.py), which knows
    the settings."""

    name = fields.String(validate=validate.Length(1, 200))
    rawRetentionDays = fields.Integer(strict=True, validate=validate.Range(min=1))

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Nothing to change: give name or rawRetentionDays.")


class MemberSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(3, 254))
    role = fields.String(load_default="member", validate=validate.OneOf(["owner", "member"]))


class DeletionSchema(StrictSchema):
    """A person deletion (issue 17): the distinct ids of the persons to delete."""

    distinctIds = fields.List(
        fields.String(validate=validate.Length(1, MAX_DISTINCT_ID_CHARS)),
        required=True,
        validate=validate.Length(1, MAX_DISTINCT_IDS),
    )


class PlanSchema(StrictSchema):
    plan = fields.String(required=True, validate=validate.Length(1, 50))


class CliValidateSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(1, 200))


class RollbackSchema(StrictSchema):
    projectId = fields.String(required=True, validate=validate.Length(1, 100))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


def decode_json(body: bytes) -> Any:
    document = json_document(body, ValidationFailed)
    nul = nul_paths(document)
    if nul:
        message = "Must not contain NUL characters (\\u0000)."
        raise ValidationFailed([{"field": path or None, "message": message} for path in nul])
    return document


def nul_paths(document: Any) -> list[str]:
    """Where a string (or an object's key) holds U+0000, which PostgreSQL's text and jsonb
    cannot store: refused up front rather than failing in the database. Iterative, as
    orjson accepts nesting deeper than Python's recursion limit."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    found.append(child)
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return sorted(found)


def load(schema: Schema, document: Any) -> dict[str, Any]:
    """``schema.load(document)`` with failures as the contract's 400."""
    if not isinstance(document, dict):
        raise ValidationFailed([{"field": None, "message": "Body must be a JSON object."}])
    try:
        loaded: dict[str, Any] = schema.load(document)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from exc
    return loaded


def repeated_keys(body: bytes) -> list[str]:
    """Keys an object of the JSON ``body`` names twice (JSON parsers keep the last one
    silently: a tracking plan would lose the first definition of an event)."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        counts = Counter(name for name, _ in items)
        repeated.extend(sorted(name for name, n in counts.items() if n > 1))
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []  # not JSON orjson accepts, or nested too deep: refused elsewhere
    return repeated


def refuse_repeated_keys(body: bytes, field: str) -> None:
    repeated = repeated_keys(body)
    if repeated:
        message = "Key '{}' appears more than once in one object."
        raise ValidationFailed([{"field": field, "message": message.format(k)} for k in repeated])
