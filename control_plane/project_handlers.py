"""HTTP handlers for projects, members, keys and plans: parse, authorize, call, answer."""

from typing import Any

from aiohttp import web

from control_plane import validation
from control_plane.account_handlers import body_of
from control_plane.auth import Principal, authenticate
from control_plane.errors import Conflict, Forbidden, NotFound, ValidationFailed
from control_plane.keys import POOL
from control_plane.members import LastOwner, Member, UnknownUser, add_member, list_members
from control_plane.members import remove_member as remove_membership
from control_plane.projects import (
    ProjectView,
    SlugTaken,
    UnknownPlan,
    active_keys,
    change_plan,
    create_project,
    list_projects,
    project_for_member,
    rotate_keys,
)

_CREATE = validation.ProjectCreateSchema()
_MEMBER = validation.MemberSchema()
_PLAN = validation.PlanSchema()


def project_body(project: ProjectView) -> dict[str, Any]:
    return {
        "id": project.id,
        "slug": project.slug,
        "name": project.name,
        "plan": project.plan,
        "monthlyEventLimit": project.monthly_event_limit,
        "role": project.role,
        "createdAt": project.created_at.isoformat(),
    }


def member_body(member: Member) -> dict[str, Any]:
    return {
        "userId": member.user_id,
        "email": member.email,
        "role": member.role,
        "createdAt": member.created_at.isoformat(),
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
    async with request.app[POOL].connection() as conn:
        try:
            created = await create_project(
                conn, body["slug"], body["name"], body["plan"], owner_id=principal.user_id
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
    body = project_body(project)
    body["members"] = [member_body(m) for m in members]
    body["keys"] = keys
    return web.json_response({"project": body})


async def add(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    body = await body_of(request, _MEMBER)
    async with request.app[POOL].connection() as conn:
        try:
            member = await add_member(conn, project.id, body["email"], body["role"])
        except UnknownUser as exc:
            raise NotFound("No user with this email") from exc
    return web.json_response({"member": member_body(member)}, status=201)


async def remove(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    async with request.app[POOL].connection() as conn:
        try:
            removed = await remove_membership(conn, project.id, request.match_info["user_id"])
        except LastOwner as exc:
            raise Conflict("A project keeps at least one owner") from exc
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
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    body = await body_of(request, _PLAN)
    async with request.app[POOL].connection() as conn:
        try:
            await change_plan(conn, project.id, body["plan"])
        except UnknownPlan as exc:
            raise ValidationFailed([{"field": "plan", "message": "Unknown plan."}]) from exc
        updated = await project_for_member(conn, project.id, principal.user_id)
    assert updated is not None
    return web.json_response({"project": project_body(updated)})
