"""HTTP handlers for person deletions (issue 17, docs/privacy.md): owners only."""

from typing import Any

from aiohttp import web

from control_plane import validation
from control_plane.account_handlers import body_of
from control_plane.app_keys import POOL
from control_plane.auth import authenticate
from control_plane.deletions import Deletion, find_deletion, request_deletion
from control_plane.errors import NotFound
from control_plane.project_handlers import member_project

_DELETION = validation.DeletionSchema()


def deletion_body(deletion: Deletion) -> dict[str, Any]:
    return {
        "id": deletion.id,
        "status": deletion.status.value,
        "events": deletion.events,
        "createdAt": deletion.created_at.isoformat(),
        "finishedAt": deletion.finished_at.isoformat() if deletion.finished_at else None,
    }


async def create(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    body = await body_of(request, _DELETION)
    async with request.app[POOL].connection() as conn:
        deletion = await request_deletion(conn, project.id, body["distinctIds"], principal.user_id)
    return web.json_response(deletion_body(deletion), status=202)


async def show(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    async with request.app[POOL].connection() as conn:
        deletion = await find_deletion(conn, project.id, request.match_info["deletion_id"])
    if deletion is None:
        raise NotFound("No such deletion")
    return web.json_response(deletion_body(deletion))
