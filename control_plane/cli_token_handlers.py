"""HTTP handlers for the CLI token flow: a one-time token from a browser session,
exchanged once for a revocable access token."""

from aiohttp import web

from control_plane import validation
from control_plane.account_handlers import body_of
from control_plane.app_keys import POOL, SETTINGS
from control_plane.auth import authenticate, require_session
from control_plane.cli_tokens import create_login_token, exchange_login_token, revoke_access_token
from control_plane.errors import Unauthorized

_CLI_VALIDATE = validation.CliValidateSchema()


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
