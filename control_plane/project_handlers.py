"""HTTP handlers for projects, members, keys and plans: parse, authorize, call, answer.

Plans are not self-service: a project starts on the default plan, and only an operator
(``python -m control_plane operators grant EMAIL``) names another or changes it; members
see their plan and this month's usage.
"""

from typing import Any

from aiohttp import web

from control_plane import mail, validation
from control_plane.account_handlers import body_of
from control_plane.app_keys import MAILER, POOL, SETTINGS
from control_plane.auth import Principal, authenticate, caller_is_operator
from control_plane.errors import Conflict, Forbidden, NotFound, ValidationFailed
from control_plane.invitations import Invitation, create_invitation
from control_plane.members import LastOwner, Member, list_members, member_by_email, set_role
from control_plane.members import remove_member as remove_membership
from control_plane.projects import (
    ProjectView,
    SlugTaken,
    UnknownPlan,
    active_keys,
    change_plan,
    create_project,
    find_project,
    list_projects,
    project_for_member,
    rotate_keys,
    update_project,
    used_this_month,
)
from control_plane.retention import retention_problem
from control_plane.shards import shard_pool

_CREATE = validation.ProjectCreateSchema()
_MEMBER = validation.MemberSchema()
_PLAN = validation.PlanSchema()
_UPDATE = validation.ProjectUpdateSchema()
LAST_OWNER = "A project keeps at least one owner: make someone else owner first"
OPERATORS_ONLY = "Only an operator can change a project's plan"


def project_body(project: ProjectView) -> dict[str, Any]:
    return {
        "id": project.id,
        "slug": project.slug,
        "name": project.name,
        "plan": project.plan,
        "monthlyEventLimit": project.monthly_event_limit,
        "rawRetentionDays": project.raw_retention_days,
        "role": project.role or None,
        "createdAt": project.created_at.isoformat(),
    }


def member_body(member: Member) -> dict[str, Any]:
    return {
        "userId": member.user_id,
        "email": member.email,
        "role": member.role,
        "createdAt": member.created_at.isoformat(),
    }


def invitation_body(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "createdAt": invitation.created_at.isoformat(),
        "expiresAt": invitation.expires_at.isoformat(),
    }


def usage_body(month: str, used: int, limit: int) -> dict[str, Any]:
    """``overage``: events counted past the limit — answered 200 while the gateways could
    not reserve quota (Redis unreachable), or sent before a plan was lowered."""
    return {
        "month": month,
        "used": used,
        "limit": limit,
        "remaining": max(0, limit - used),
        "overage": max(0, used - limit),
    }


async def member_project(
    request: web.Request, ref: str, principal: Principal, owner: bool = False
) -> ProjectView:
    """The project, if the caller is a member (an owner, when ``owner``); 403 otherwise,
    the same answer as for a project that does not exist."""
    async with request.app[POOL].connection() as conn:
        project = await project_for_member(conn, ref, principal.user_id)
    if project is None or (owner and project.role != "owner"):
        raise Forbidden()
    return project


async def create(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await body_of(request, _CREATE)
    settings = request.app[SETTINGS]
    default_plan = settings.default_plan
    plan = body["plan"] or default_plan
    if plan != default_plan and not await caller_is_operator(request, principal):
        raise Forbidden(
            f"New projects start on the {default_plan} plan; only an operator can choose another"
        )
    async with request.app[POOL].connection() as conn:
        try:
            created = await create_project(
                conn,
                body["slug"],
                body["name"],
                plan,
                owner_id=principal.user_id,
                shards=settings.shards,
            )
        except SlugTaken as exc:
            raise Conflict("A project with this slug already exists") from exc
        except UnknownPlan as exc:
            raise ValidationFailed([{"field": "plan", "message": "Unknown plan."}]) from exc
        project = await project_for_member(conn, created.id, principal.user_id)
    assert project is not None
    return web.json_response(
        {
            "project": project_body(project),
            "publicKey": created.public_key,
            "secretKey": created.secret_key,
        },
        status=201,
    )


async def list_all(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    async with request.app[POOL].connection() as conn:
        projects = await list_projects(conn, principal.user_id)
    return web.json_response({"projects": [project_body(p) for p in projects]})


async def show(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal)
    async with request.app[POOL].connection() as conn:
        members = await list_members(conn, project.id)
        keys = await active_keys(conn, project.id)
    # The workers count usage in the project's shard's database (contracts/shards.py).
    async with (await shard_pool(request, project.id)).connection() as conn:
        month, used = await used_this_month(conn, project.id)
    body = project_body(project)
    body["members"] = [member_body(m) for m in members]
    body["keys"] = keys
    body["usage"] = usage_body(month, used, project.monthly_event_limit)
    return web.json_response({"project": body})


async def update(request: web.Request) -> web.Response:
    """``PATCH …/{ref} {"name"?, "rawRetentionDays"?}`` (owners): 200 with the project.
    A retention past the operators' maximum is a 400 naming it."""
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    body = await body_of(request, _UPDATE)
    days = body.get("rawRetentionDays")
    if days is not None:
        problem = retention_problem(days, request.app[SETTINGS].max_raw_retention_days)
        if problem is not None:
            raise ValidationFailed([{"field": "rawRetentionDays", "message": problem}])
    async with request.app[POOL].connection() as conn:
        await update_project(conn, project.id, body.get("name"), days)
        updated = await project_for_member(conn, project.id, principal.user_id)
    assert updated is not None
    return web.json_response({"project": project_body(updated)})


async def add(request: web.Request) -> web.Response:
    """``POST …/members {"email", "role"}``: a member's new role (200), or an invitation
    mailed to the address (201) — never a membership nobody accepted."""
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    body = await body_of(request, _MEMBER)
    settings = request.app[SETTINGS]
    async with request.app[POOL].connection() as conn:
        member = await member_by_email(conn, project.id, body["email"])
        if member is not None:
            try:
                await set_role(conn, project.id, member.user_id, body["role"])
            except LastOwner as exc:
                raise Conflict(LAST_OWNER) from exc
            member = await member_by_email(conn, project.id, body["email"])
            assert member is not None
            return web.json_response({"member": member_body(member)})
        invitation, token = await create_invitation(
            conn,
            project.id,
            body["email"],
            body["role"],
            principal.user_id,
            settings.invitation_ttl_seconds,
        )
    subject, text = mail.invitation(settings.public_url, project.slug, invitation.role, token)
    request.app[MAILER].send(invitation.email, subject, text)
    return web.json_response({"invitation": invitation_body(invitation)}, status=201)


async def remove(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    async with request.app[POOL].connection() as conn:
        try:
            removed = await remove_membership(conn, project.id, request.match_info["user_id"])
        except LastOwner as exc:
            raise Conflict(LAST_OWNER) from exc
    if not removed:
        raise NotFound("Not a member of this project")
    return web.json_response({"success": True})


async def rotate(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    async with request.app[POOL].connection() as conn:
        public_key, secret_key = await rotate_keys(conn, project.id)
    return web.json_response({"publicKey": public_key, "secretKey": secret_key})


async def set_plan(request: web.Request) -> web.Response:
    """Operators only: any project, member or not. A member who is not an operator gets
    403 saying so; anyone else the 403 of a project that does not exist."""
    principal = await authenticate(request)
    ref = request.match_info["ref"]
    if not await caller_is_operator(request, principal):
        await member_project(request, ref, principal)  # not a member: the usual 403
        raise Forbidden(OPERATORS_ONLY)
    body = await body_of(request, _PLAN)
    async with request.app[POOL].connection() as conn:
        project = await find_project(conn, ref)
        if project is None:
            raise Forbidden()
        try:
            await change_plan(conn, project.id, body["plan"], changed_by=principal.user_id)
        except UnknownPlan as exc:
            raise ValidationFailed([{"field": "plan", "message": "Unknown plan."}]) from exc
        updated = await project_for_member(conn, project.id, principal.user_id)
        updated = updated or await find_project(conn, project.id)
    assert updated is not None
    return web.json_response({"project": project_body(updated)})
