"""HTTP handlers for accounts, sessions and the CLI token flow: parse, call, answer."""

from typing import Any

from aiohttp import web
from marshmallow import Schema

from contracts.sessions import SESSION_COOKIE
from control_plane import validation
from control_plane.accounts import User, create_user, find_login
from control_plane.auth import authenticate, check_origin_if_present, require_session
from control_plane.cli_tokens import create_login_token, exchange_login_token, revoke_access_token
from control_plane.errors import TooManyAttempts, Unauthorized
from control_plane.keys import METRICS, PASSWORDS, POOL, SESSIONS, SETTINGS, THROTTLE

_SIGNUP = validation.SignupSchema()
_LOGIN = validation.LoginSchema()
_CLI_VALIDATE = validation.CliValidateSchema()


async def body_of(request: web.Request, schema: Schema) -> dict[str, Any]:
    return validation.load(schema, validation.decode_json(await request.read()))


def user_body(user: User) -> dict[str, Any]:
    return {"user": {"id": user.id, "email": user.email}}


async def _logged_in(request: web.Request, user: User, status: int) -> web.Response:
    settings = request.app[SETTINGS]
    session_id = await request.app[SESSIONS].create(user.id, user.email)
    response = web.json_response(user_body(user), status=status)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_ttl_seconds,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
    )
    return response


async def signup(request: web.Request) -> web.Response:
    check_origin_if_present(request)
    body = await body_of(request, _SIGNUP)
    password_hash = await request.app[PASSWORDS].hash(body["password"])
    async with request.app[POOL].connection() as conn:
        user = await create_user(conn, body["email"], password_hash)
    return await _logged_in(request, user, status=201)


async def login(request: web.Request) -> web.Response:
    check_origin_if_present(request)
    body = await body_of(request, _LOGIN)
    email, ip = body["email"], request.remote or "unknown"
    throttle, metrics = request.app[THROTTLE], request.app[METRICS]
    retry_after = await throttle.retry_after(email, ip)
    if retry_after is not None:
        metrics.logins.labels("throttled").inc()
        raise TooManyAttempts(retry_after)
    async with request.app[POOL].connection() as conn:
        found = await find_login(conn, email)
    user, stored = found if found else (None, None)
    if not await request.app[PASSWORDS].verify(stored, body["password"]) or user is None:
        await throttle.failed(email, ip)
        metrics.logins.labels("failed").inc()
        raise Unauthorized("Invalid email or password")
    await throttle.succeeded(email, ip)
    metrics.logins.labels("ok").inc()
    return await _logged_in(request, user, status=200)


async def logout(request: web.Request) -> web.Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await authenticate(request)  # the Origin rule applies to this write too
        await request.app[SESSIONS].delete(session_id)
    response = web.json_response({"success": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return web.json_response(
        {"user": {"id": principal.user_id, "email": principal.email}, "auth": principal.via}
    )


async def create_cli_token(request: web.Request) -> web.Response:
    principal = await require_session(request)
    ttl = request.app[SETTINGS].cli_token_ttl_seconds
    async with request.app[POOL].connection() as conn:
        token = await create_login_token(conn, principal.user_id, ttl)
    return web.json_response({"token": token, "expiresIn": ttl}, status=201)


async def validate_cli_token(request: web.Request) -> web.Response:
    body = await body_of(request, _CLI_VALIDATE)
    async with request.app[POOL].connection() as conn:
        access_token = await exchange_login_token(conn, body["token"])
    if access_token is None:
        raise Unauthorized("Invalid, expired or already used CLI token")
    return web.json_response({"accessToken": access_token, "tokenType": "Bearer"}, status=201)


async def revoke_cli_token(request: web.Request) -> web.Response:
    """``POST /api/cli/revoke`` with the bearer token to revoke (the CLI's logout)."""
    principal = await authenticate(request)
    if principal.via != "bearer":
        raise Unauthorized("A CLI access token is required")
    token = request.headers["Authorization"].partition(" ")[2].strip()
    async with request.app[POOL].connection() as conn:
        await revoke_access_token(conn, token)
    return web.json_response({"success": True})
