"""HTTP handlers for project invitations: owners list and revoke them, invitees accept."""

from aiohttp import web

from control_plane import validation
from control_plane.account_handlers import body_of
from control_plane.app_keys import POOL
from control_plane.auth import authenticate
from control_plane.errors import Forbidden, NotFound
from control_plane.invitations import (
    InvalidInvitation,
    WrongRecipient,
    accept_invitation,
    list_invitations,
    revoke_invitation,
)
from control_plane.project_handlers import invitation_body, member_project, project_body
from control_plane.projects import project_for_member

_TOKEN = validation.TokenSchema()


async def list_open(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    async with request.app[POOL].connection() as conn:
        invitations = await list_invitations(conn, project.id)
    return web.json_response({"invitations": [invitation_body(i) for i in invitations]})


async def revoke(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    invitation_id = request.match_info["invitation_id"]
    if "\x00" in invitation_id:  # names no invitation (and PostgreSQL's text cannot hold it)
        raise NotFound("No open invitation with this id")
    async with request.app[POOL].connection() as conn:
        revoked = await revoke_invitation(conn, project.id, invitation_id)
    if not revoked:
        raise NotFound("No open invitation with this id")
    return web.json_response({"success": True})


async def accept(request: web.Request) -> web.Response:
    """``POST /api/invitations/accept {"token"}``, logged in with the invited address."""
    principal = await authenticate(request)
    body = await body_of(request, _TOKEN)
    async with request.app[POOL].connection() as conn:
        try:
            project_id = await accept_invitation(
                conn, body["token"], principal.user_id, principal.email
            )
        except WrongRecipient as exc:
            raise Forbidden("This invitation is for another email address") from exc
        except InvalidInvitation as exc:
            raise NotFound("Invalid, expired, revoked or already accepted invitation") from exc
        project = await project_for_member(conn, project_id, principal.user_id)
    assert project is not None
    return web.json_response({"project": project_body(project)})
