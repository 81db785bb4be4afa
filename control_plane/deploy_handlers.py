"""HTTP handlers for config deploys: auth, membership, secret key, validation, store."""

import logging
from typing import Any

from aiohttp import web
from marshmallow import ValidationError, fields, validate

from contracts.config import MAX_CONFIG_BYTES, config_size, config_too_large, load_config
from contracts.validation import flatten_messages
from control_plane import validation
from control_plane.account_handlers import body_of
from control_plane.app_keys import METRICS, POOL, RELAY
from control_plane.auth import Principal, authenticate
from control_plane.deploys import ConfigVersion, config_history, config_version, deploy_config
from control_plane.errors import NotFound, PayloadTooLarge, Unauthorized, ValidationFailed
from control_plane.project_handlers import member_project
from control_plane.projects import ProjectView, secret_key_matches

logger = logging.getLogger(__name__)


class DeploySchema(validation.StrictSchema):
    projectId = fields.String(required=True, validate=validate.Length(1, 100))
    config = fields.Dict(required=True)


_DEPLOY = DeploySchema()
_ROLLBACK = validation.RollbackSchema()


def version_body(project_id: str, found: ConfigVersion) -> dict[str, Any]:
    return {
        "projectId": project_id,
        "version": found.version,
        "config": found.config,
        "deployedBy": found.deployed_by,
        "rolledBackFrom": found.rolled_back_from,
        "createdAt": found.created_at.isoformat(),
        "status": found.status,
        "publishError": found.publish_error,
    }


async def _authorized_project(request: web.Request, ref: str) -> tuple[Principal, ProjectView]:
    """CLI or session auth, membership, and the project's own secret key."""
    principal = await authenticate(request)
    project = await member_project(request, ref, principal)
    secret_key = request.headers.get("X-Secret-Key", "")
    async with request.app[POOL].connection() as conn:
        matches = bool(secret_key) and await secret_key_matches(conn, project.id, secret_key)
    if not matches:
        raise Unauthorized("Invalid secret key")
    return principal, project


def _refuse_oversized(request: web.Request, config: dict[str, Any]) -> None:
    """A config over the limit would sit in the outbox (and on every consumer) forever:
    refused at the door, as is a rollback to a version stored before the limit existed."""
    too_large = config_too_large(config)
    if too_large is not None:
        request.app[METRICS].deploys_refused.labels("too_large").inc()
        raise PayloadTooLarge(too_large, config_size(config), MAX_CONFIG_BYTES)


async def _store(
    request: web.Request,
    project: ProjectView,
    principal: Principal,
    config: dict[str, Any],
    rolled_back_from: int | None = None,
) -> web.Response:
    _refuse_oversized(request, config)
    async with request.app[POOL].connection() as conn:
        version = await deploy_config(conn, project.id, config, principal.user_id, rolled_back_from)
    request.app[METRICS].deploys.inc()
    relay = request.app.get(RELAY)
    if relay is not None:
        relay.wake()
    logger.info("project %s: config version %d deployed", project.id, version)
    return web.json_response(
        {
            "projectId": project.id,
            "slug": project.slug,
            "version": version,
            "config": config,
            "status": "pending",
        },
        status=201,
    )


async def deploy(request: web.Request) -> web.Response:
    body = await body_of(request, _DEPLOY)
    principal, project = await _authorized_project(request, body["projectId"])
    try:
        validation.refuse_repeated_keys(await request.read(), "config")
        try:
            config = load_config(body["config"])
        except ValidationError as exc:
            raise ValidationFailed(flatten_messages(exc.messages, "config")) from exc
    except ValidationFailed:
        request.app[METRICS].deploys_refused.labels("invalid").inc()
        raise
    return await _store(request, project, principal, config)


async def rollback(request: web.Request) -> web.Response:
    body = await body_of(request, _ROLLBACK)
    principal, project = await _authorized_project(request, body["projectId"])
    async with request.app[POOL].connection() as conn:
        found = await config_version(conn, project.id, body["version"])
    if found is None:
        raise NotFound("No such config version")
    return await _store(request, project, principal, found.config, found.version)


async def current(request: web.Request) -> web.Response:
    """``GET /api/projects/{ref}/config``: the deployed config (members; no secret key)."""
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal)
    async with request.app[POOL].connection() as conn:
        found = await config_version(conn, project.id)
    if found is None:
        raise NotFound("No config deployed yet")
    return web.json_response(version_body(project.id, found))


async def history(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal)
    async with request.app[POOL].connection() as conn:
        versions = await config_history(conn, project.id)
    return web.json_response({"versions": [version_body(project.id, v) for v in versions]})
