"""The control plane's OpenAPI 3.0 document, generated from the marshmallow schemas that
validate its request bodies (apispec); the answers are described here, the shapes the
handlers return. A test holds it to the router, so neither can drift from the other."""

from typing import Any

from marshmallow import Schema, fields

from common.openapi import ErrorSchema, ValidationErrorSchema, answer, new_spec, ref
from contracts.config import ConfigSchema
from control_plane import validation
from control_plane.event_rows import COUNT_HEADER, FORMATS, NDJSON


class AcceptedSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String()


class UserSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)


class UserAnswerSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    auth = fields.String()
    success = fields.Boolean()


class ProjectSchema(Schema):
    id = fields.String(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    plan = fields.String(required=True)
    monthlyEventLimit = fields.Integer(required=True)
    rawRetentionDays = fields.Integer(required=True)
    role = fields.String(required=True, allow_none=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    members = fields.List(fields.Dict())
    keys = fields.List(fields.Dict())
    usage = fields.Dict()


class ProjectAnswerSchema(Schema):
    project = fields.Nested(ProjectSchema, required=True)


class CreatedProjectSchema(Schema):
    project = fields.Nested(ProjectSchema, required=True)
    publicKey = fields.String(required=True)
    secretKey = fields.String(required=True)


class ProjectListSchema(Schema):
    projects = fields.List(fields.Nested(ProjectSchema), required=True)


class InvitationSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    expiresAt = fields.String(required=True, metadata={"format": "date-time"})


class InvitationAnswerSchema(Schema):
    invitation = fields.Nested(InvitationSchema, required=True)


class InvitationListSchema(Schema):
    invitations = fields.List(fields.Nested(InvitationSchema), required=True)


class MemberAnswerSchema(Schema):
    member = fields.Dict(required=True)


class KeysSchema(Schema):
    publicKey = fields.String(required=True)
    secretKey = fields.String(required=True)


class CliTokenSchema(Schema):
    token = fields.String(required=True)
    expiresIn = fields.Integer(required=True)


class AccessTokenSchema(Schema):
    accessToken = fields.String(required=True)
    tokenType = fields.String(required=True)


class DeploySchema(Schema):
    projectId = fields.String(required=True)
    config = fields.Nested(ConfigSchema, required=True)


class VersionSchema(Schema):
    projectId = fields.String(required=True)
    version = fields.Integer(required=True)
    config = fields.Dict(required=True)
    status = fields.String(required=True)
    slug = fields.String()
    deployedBy = fields.String(allow_none=True)
    rolledBackFrom = fields.Integer(allow_none=True)
    createdAt = fields.String(metadata={"format": "date-time"})
    publishError = fields.String(allow_none=True)


class DeletionAnswerSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["pending", "running", "done"]})
    events = fields.Integer(required=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    finishedAt = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class HistorySchema(Schema):
    versions = fields.List(fields.Nested(VersionSchema), required=True)


SCHEMAS: dict[str, type[Schema]] = {
    "Error": ErrorSchema,
    "ValidationError": ValidationErrorSchema,
    "Accepted": AcceptedSchema,
    "UserAnswer": UserAnswerSchema,
    "ProjectAnswer": ProjectAnswerSchema,
    "CreatedProject": CreatedProjectSchema,
    "ProjectList": ProjectListSchema,
    "InvitationAnswer": InvitationAnswerSchema,
    "InvitationList": InvitationListSchema,
    "MemberAnswer": MemberAnswerSchema,
    "Keys": KeysSchema,
    "CliToken": CliTokenSchema,
    "AccessToken": AccessTokenSchema,
    "Version": VersionSchema,
    "History": HistorySchema,
    "DeletionAnswer": DeletionAnswerSchema,
    "Deletion": validation.DeletionSchema,
    "Signup": validation.SignupSchema,
    "Login": validation.LoginSchema,
    "Token": validation.TokenSchema,
    "ResetRequest": validation.ResetRequestSchema,
    "ResetConfirm": validation.ResetConfirmSchema,
    "ProjectCreate": validation.ProjectCreateSchema,
    "ProjectUpdate": validation.ProjectUpdateSchema,
    "Member": validation.MemberSchema,
    "Plan": validation.PlanSchema,
    "CliValidate": validation.CliValidateSchema,
    "Deploy": DeploySchema,
    "Rollback": validation.RollbackSchema,
}

# Every route: (method, path, summary, request schema, {status: (schema, description)}).
_ERROR = "Error"
_COMMON = {"400": ("ValidationError", "Invalid body"), "401": (_ERROR, "Not authenticated")}
_MEMBER = {**_COMMON, "403": (_ERROR, "Not a member (or no such project), or foreign Origin")}
_THROTTLED = {"429": (_ERROR, "Throttled (Retry-After)")}
# Streams of raw events answer JSON lines, not a JSON document (see _responses).
_EVENTS = "Events"
_STREAM = {**_MEMBER, "403": (_ERROR, "Not an owner (or no such project), or foreign Origin"),
           "503": (_ERROR, "Too many streams at once, or the project's shard not configured "
                           "(Retry-After)")}  # fmt: skip
Route = tuple[str, str, str, str | None, dict[str, tuple[str | None, str]]]
ROUTES: list[Route] = [
    ("post", "/auth/signup", "Sign up; a code to confirm the address is mailed", "Signup",
     {"202": ("Accepted", "The same answer whether or not the address has an account"),
      **_COMMON, **_THROTTLED}),
    ("post", "/auth/confirm", "Confirm the address with the mailed code; logs in", "Token",
     {"200": ("UserAnswer", "Confirmed; session cookie set"), **_COMMON}),
    ("post", "/auth/login", "Log in; sets the session cookie", "Login",
     {"200": ("UserAnswer", "Logged in"), **_COMMON,
      "403": (_ERROR, "Address not confirmed yet, or foreign Origin"), **_THROTTLED}),
    ("post", "/auth/logout", "Log out", None, {"200": ("Accepted", "Logged out"), **_COMMON}),
    ("post", "/auth/password-reset", "Mail a password-reset code", "ResetRequest",
     {"202": ("Accepted", "The same answer whether or not the address has an account"),
      **_COMMON, **_THROTTLED}),
    ("post", "/auth/password-reset/confirm", "Set a new password with the mailed code",
     "ResetConfirm", {"200": ("UserAnswer", "Password changed; CLI tokens revoked"), **_COMMON}),
    ("get", "/me", "Who is logged in", None, {"200": ("UserAnswer", "The caller"), **_COMMON}),
    ("post", "/cli/tokens", "A one-time CLI token (browser session only)", None,
     {"201": ("CliToken", "Created"), **_MEMBER}),
    ("post", "/cli/validate", "Exchange a one-time CLI token for an access token",
     "CliValidate", {"201": ("AccessToken", "Exchanged"), **_COMMON}),
    ("post", "/cli/revoke", "Revoke the bearer token presented", None,
     {"200": ("Accepted", "Revoked"), **_COMMON}),
    ("post", "/projects", "Create a project on the default plan (others: operators)",
     "ProjectCreate", {"201": ("CreatedProject", "Created; keys shown once"), **_COMMON,
                       "403": (_ERROR, "Another plan than the default, not an operator"),
                       "409": (_ERROR, "Slug taken")}),
    ("get", "/projects", "The caller's projects", None,
     {"200": ("ProjectList", "Projects"), **_COMMON}),
    ("get", "/projects/{ref}", "A project, its members, key hints and this month's usage",
     None, {"200": ("ProjectAnswer", "The project"), **_MEMBER}),
    ("patch", "/projects/{ref}", "Rename, or set the raw-event retention (owners; days, "
     "1 to RA_MAX_RAW_RETENTION_DAYS)", "ProjectUpdate",
     {"200": ("ProjectAnswer", "Changed"), **_MEMBER,
      "403": (_ERROR, "Not an owner (or no such project), or foreign Origin")}),
    ("post", "/projects/{ref}/members", "Invite an address, or change a member's role",
     "Member", {"200": ("MemberAnswer", "Role changed"),
                "201": ("InvitationAnswer", "Invitation mailed"), **_MEMBER,
                "409": (_ERROR, "Would leave the project without an owner")}),
    ("delete", "/projects/{ref}/members/{user_id}", "Remove a member (owners)", None,
     {"200": ("Accepted", "Removed"), **_MEMBER, "404": (_ERROR, "Not a member"),
      "409": (_ERROR, "Would leave the project without an owner")}),
    ("get", "/projects/{ref}/invitations", "Open invitations (owners)", None,
     {"200": ("InvitationList", "Open invitations"), **_MEMBER}),
    ("delete", "/projects/{ref}/invitations/{invitation_id}", "Revoke an invitation (owners)",
     None, {"200": ("Accepted", "Revoked"), **_MEMBER, "404": (_ERROR, "No open invitation")}),
    ("post", "/invitations/accept", "Accept an invitation to the caller's address", "Token",
     {"200": ("ProjectAnswer", "Joined"), **_COMMON,
      "403": (_ERROR, "For another address, or foreign Origin"),
      "404": (_ERROR, "Invalid, expired, revoked or accepted")}),
    ("post", "/projects/{ref}/keys/rotate", "New key pair (owners)", None,
     {"200": ("Keys", "New keys, shown once"), **_MEMBER}),
    ("post", "/projects/{ref}/plan", "Change the plan (operators only)", "Plan",
     {"200": ("ProjectAnswer", "Changed"), **_MEMBER}),
    ("post", "/projects/{ref}/deletions", "Delete persons' events everywhere (owners)",
     "Deletion", {"202": ("DeletionAnswer", "Recorded; carried out by the workers"),
                  **_MEMBER}),
    ("get", "/projects/{ref}/deletions/{deletion_id}", "A person deletion's progress (owners)",
     None, {"200": ("DeletionAnswer", "Its status and the events deleted"), **_MEMBER,
            "404": (_ERROR, "No such deletion")}),
    ("get", "/projects/{ref}/config", "The deployed config", None,
     {"200": ("Version", "The current version"), **_MEMBER, "404": (_ERROR, "None yet")}),
    ("get", "/projects/{ref}/configs", "Every config version, newest first", None,
     {"200": ("History", "Versions"), **_MEMBER}),
    ("get", "/projects/{ref}/persons/{distinctId}/events",
     "Every stored event of one person, in timestamp order (access request; owners)", None,
     {"200": (_EVENTS, "JSON lines"), **_STREAM}),
    ("get", "/projects/{ref}/events/export",
     "The project's events with from <= timestamp < to, as JSON lines (owners)", None,
     {"200": (_EVENTS, "JSON lines"), **_STREAM}),
    ("post", "/deploy", "Deploy a compiled config (X-Secret-Key)", "Deploy",
     {"201": ("Version", "Stored, to be published"), **_MEMBER,
      "413": (_ERROR, "Config too large")}),
    ("post", "/deploy/rollback", "Deploy an old version again (X-Secret-Key)", "Rollback",
     {"201": ("Version", "Stored, to be published"), **_MEMBER,
      "404": (_ERROR, "No such version"), "413": (_ERROR, "Config too large")}),
    ("get", "/openapi.json", "This document", None, {"200": (None, "OpenAPI 3.0")}),
    ("get", "/control/health", "Liveness", None, {"200": (None, "Alive")}),
    ("get", "/control/ready", "Readiness (Redis, PostgreSQL)", None,
     {"200": (None, "Ready"), "503": (None, "Not ready")}),
    ("get", "/control/metrics", "Prometheus metrics", None, {"200": (None, "text/plain")}),
]  # fmt: skip


# One event per line, the raw store's fields; the count of lines in a header.
_EVENT_LINE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "receivedAt": {"type": "string", "format": "date-time"},
        "distinctId": {"type": "string"},
        "sessionId": {"type": "string"},
        "properties": {"type": "object"},
        "insertId": {"type": "string", "nullable": True},
        "context": {"type": "object"},
    },
}
_EVENTS_ANSWER = {
    "content": {NDJSON: {"schema": _EVENT_LINE}},
    "headers": {
        COUNT_HEADER: {
            "description": "How many lines follow (counted in the stream's snapshot)",
            "schema": {"type": "integer"},
        }
    },
}
_QUERY_PARAMETERS: dict[str, list[tuple[str, bool, dict[str, Any]]]] = {
    "/projects/{ref}/persons/{distinctId}/events": [
        ("format", False, {"type": "string", "enum": list(FORMATS), "default": FORMATS[0]}),
    ],
    "/projects/{ref}/events/export": [
        ("from", True, {"type": "string", "description": "ISO 8601 time or date, inclusive"}),
        ("to", True, {"type": "string", "description": "ISO 8601 time or date, exclusive"}),
    ],
}


def _responses(answers: dict[str, tuple[str | None, str]]) -> dict[str, Any]:
    return {
        status: {"description": description, **_EVENTS_ANSWER}
        if schema == _EVENTS
        else answer(schema, description)
        for status, (schema, description) in answers.items()
    }


def build_spec(prefix: str) -> dict[str, Any]:
    spec = new_spec("realanalytics control plane")
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for method, path, summary, body, answers in ROUTES:
        operation: dict[str, Any] = {"summary": summary, "responses": _responses(answers)}
        if body is not None:
            content = {"application/json": {"schema": ref(body)}}
            operation["requestBody"] = {"required": True, "content": content}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in ("ref", "user_id", "invitation_id", "deletion_id", "distinctId")
            if "{" + name + "}" in path
        ] + [
            {"name": name, "in": "query", "required": required, "schema": schema}
            for name, required, schema in _QUERY_PARAMETERS.get(path, [])
        ]
        if parameters:
            operation["parameters"] = parameters
        spec.path(path=prefix + path, operations={method: operation})
    return spec.to_dict()
