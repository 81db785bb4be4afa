"""HTTP handlers for accounts and sessions: sign-up, confirmation, login, logout, me.

Sign-up answers the same (202, same body, same work: one password hash, one statement,
one mail queued) whether the address is new, unconfirmed or already has an account, so it
tells nobody which addresses have one; the mail does, to the address's owner only.
"""

import asyncio
from typing import Any

from aiohttp import web
from marshmallow import Schema
from psycopg import OperationalError
from psycopg_pool import PoolTimeout

from contracts.sessions import SESSION_COOKIE
from control_plane import mail, validation
from control_plane.accounts import User, confirm_email, find_login, register
from control_plane.app_keys import MAILER, METRICS, PASSWORDS, POOL, SESSIONS, SETTINGS, THROTTLES
from control_plane.auth import (
    authenticate,
    check_origin_if_present,
    client_of,
    cookie_secure,
)
from control_plane.errors import (
    Forbidden,
    TooManyAttempts,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from control_plane.password_policy import password_problem

_SIGNUP = validation.SignupSchema()
_LOGIN = validation.LoginSchema()
_TOKEN = validation.TokenSchema()
SIGNUP_ANSWER = {
    "success": True,
    "message": "Check your inbox: we sent a code to confirm the address (if it already has"
    " an account, a note saying so instead).",
}


async def body_of(request: web.Request, schema: Schema) -> dict[str, Any]:
    return validation.load(schema, validation.decode_json(await request.read()))


def user_body(user: User) -> dict[str, Any]:
    return {"user": {"id": user.id, "email": user.email}}


async def check_password_policy(password: str, email: str = "") -> None:
    problem = await asyncio.to_thread(password_problem, password, email)
    if problem is not None:
        raise ValidationFailed([{"field": "password", "message": problem}])


async def logged_in(request: web.Request, user: User, status: int) -> web.Response:
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
        secure=cookie_secure(request),
    )
    return response


async def signup(request: web.Request) -> web.Response:
    check_origin_if_present(request)
    body = await body_of(request, _SIGNUP)
    app, settings = request.app, request.app[SETTINGS]
    wait = await app[THROTTLES].signup_attempt(client_of(request))
    if wait is not None:
        app[METRICS].signups.labels("throttled").inc()
        raise TooManyRequests("Too many sign-ups", wait)
    await check_password_policy(body["password"], body["email"])
    password_hash = await app[PASSWORDS].hash(body["password"])
    async with app[POOL].connection() as conn:
        registration = await register(
            conn, body["email"], password_hash, settings.confirm_token_ttl_seconds
        )
    if registration.confirm_token is not None:
        subject, text = mail.confirmation(settings.public_url, registration.confirm_token)
    else:
        subject, text = mail.already_registered(settings.public_url)
    app[MAILER].send(registration.user.email, subject, text)
    app[METRICS].signups.labels("accepted").inc()
    return web.json_response(SIGNUP_ANSWER, status=202)


async def confirm(request: web.Request) -> web.Response:
    """``POST /api/auth/confirm {"token"}``: the mailed code confirms the address and logs
    the account in."""
    check_origin_if_present(request)
    body = await body_of(request, _TOKEN)
    async with request.app[POOL].connection() as conn:
        user = await confirm_email(conn, body["token"])
    if user is None:
        raise Unauthorized("Invalid, expired or already used code")
    return await logged_in(request, user, status=200)


async def login(request: web.Request) -> web.Response:
    check_origin_if_present(request)
    body = await body_of(request, _LOGIN)
    app = request.app
    throttles, metrics = app[THROTTLES], app[METRICS]
    attempt = await throttles.login_attempt(body["email"], client_of(request))
    if isinstance(attempt, int):
        metrics.logins.labels("throttled").inc()
        raise TooManyAttempts(attempt)
    try:
        async with app[POOL].connection() as conn:
            found = await find_login(conn, body["email"])
    except (OperationalError, PoolTimeout):  # a 503: refused for the database, not by it
        await throttles.login_refund(attempt)
        raise
    stored = found.password_hash if found else None
    try:
        right = await app[PASSWORDS].verify(stored, body["password"])
    except Unavailable:  # not checked (too busy): the attempt does not count
        await throttles.login_refund(attempt)
        raise
    if not right or found is None:
        metrics.logins.labels("failed").inc()
        raise Unauthorized("Invalid email or password")
    await throttles.login_succeeded(attempt)
    if not found.confirmed:  # only whoever knows the password learns this
        metrics.logins.labels("unconfirmed").inc()
        raise Forbidden("Confirm your email address first (the code we mailed at sign-up)")
    metrics.logins.labels("ok").inc()
    return await logged_in(request, found.user, status=200)


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
