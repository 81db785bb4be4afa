"""HTTP handlers for password resets: ask for a code by mail, then set a new password.

The request answers 202 with the same body whether or not the address has an account
(the work is one look-up, and a mail queued only for an account, off the request's path),
so it tells nobody which addresses have one. Setting the password spends the account's
codes and revokes its CLI access tokens.
"""

from aiohttp import web

from control_plane import mail, validation
from control_plane.account_handlers import body_of, check_password_policy
from control_plane.accounts import Purpose, issue_token, reset_password
from control_plane.accounts import find_login as find_account
from control_plane.app_keys import MAILER, PASSWORDS, POOL, SETTINGS, THROTTLES
from control_plane.auth import check_origin_if_present, client_of
from control_plane.errors import TooManyRequests, Unauthorized

_REQUEST = validation.ResetRequestSchema()
_CONFIRM = validation.ResetConfirmSchema()
RESET_ANSWER = {
    "success": True,
    "message": "If an account has this address, we sent it a code to reset the password.",
}


async def request_reset(request: web.Request) -> web.Response:
    check_origin_if_present(request)
    body = await body_of(request, _REQUEST)
    app, settings = request.app, request.app[SETTINGS]
    wait = await app[THROTTLES].reset_attempt(body["email"], client_of(request))
    if wait is not None:
        raise TooManyRequests("Too many password-reset requests", wait)
    async with app[POOL].connection() as conn, conn.transaction():
        account = await find_account(conn, body["email"])
        token = None
        if account is not None:
            ttl = settings.reset_token_ttl_seconds
            token = await issue_token(conn, account.user.id, Purpose.RESET, ttl)
    if account is not None and token is not None:
        subject, text = mail.password_reset(settings.public_url, token)
        app[MAILER].send(account.user.email, subject, text)
    return web.json_response(RESET_ANSWER, status=202)


async def confirm_reset(request: web.Request) -> web.Response:
    check_origin_if_present(request)
    body = await body_of(request, _CONFIRM)
    app = request.app
    await check_password_policy(body["password"])
    password_hash = await app[PASSWORDS].hash(body["password"])
    async with app[POOL].connection() as conn:
        user = await reset_password(conn, body["token"], password_hash)
    if user is None:
        raise Unauthorized("Invalid, expired or already used code")
    return web.json_response({"success": True, "user": {"id": user.id, "email": user.email}})
