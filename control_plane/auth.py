"""Who is calling the control plane: ``common.auth``'s checks, as this service's errors.

Cookies are sent by browsers on cross-site requests too, so a write authenticated by the
cookie must carry an ``Origin`` of the App API itself. Bearer tokens are never sent
implicitly, so bearer requests need no such check.
"""

from aiohttp import web

from common.auth import Caller, Unauthenticated, identify, is_operator, origin_allowed
from common.client_address import request_client_address, request_is_https
from contracts.sessions import SESSION_COOKIE
from control_plane.errors import Forbidden, Unauthorized
from control_plane.keys import POOL, REDIS, SETTINGS

Principal = Caller


def check_origin_if_present(request: web.Request) -> None:
    """For the routes that work without a cookie (sign-up, login, confirmation, password
    reset): refuse a foreign Origin (login CSRF), accept none (the CLI, curl)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin not in request.app[SETTINGS].app_origins:
        raise Forbidden("Origin not allowed")


async def authenticate(request: web.Request) -> Principal:
    settings = request.app[SETTINGS]
    try:
        caller = await identify(
            request.app[REDIS],
            request.app[POOL],
            settings.redis_prefix,
            request.cookies.get(SESSION_COOKIE),
            request.headers.get("Authorization"),
        )
    except Unauthenticated as exc:
        raise Unauthorized(exc.message) from exc
    if caller.via == "session" and not origin_allowed(
        request.method, request.headers.get("Origin"), settings.app_origins
    ):
        raise Forbidden("Origin not allowed")
    return caller


async def require_session(request: web.Request) -> Principal:
    """Endpoints a browser session must call itself (creating CLI tokens)."""
    principal = await authenticate(request)
    if principal.via != "session":
        raise Unauthorized("A logged-in session is required")
    return principal


async def caller_is_operator(request: web.Request, principal: Principal) -> bool:
    async with request.app[POOL].connection() as conn:
        return await is_operator(conn, principal.user_id)


def client_of(request: web.Request) -> str:
    """The client's address for throttles (``X-Forwarded-For`` from trusted proxies only)."""
    return request_client_address(request, request.app[SETTINGS].trusted_proxies)


def cookie_secure(request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    return settings.cookie_secure or request_is_https(request, settings.trusted_proxies)
