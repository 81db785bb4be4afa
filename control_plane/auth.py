"""Who is calling the control plane: ``common.auth``'s checks and its one Origin rule,
with the control plane's pool, Redis and origins."""

from aiohttp import web

from common import auth
from common.auth import Caller, Credentials, ForeignOrigin, is_operator, origin_allowed
from common.client_address import request_client_address, request_is_https
from control_plane.app_keys import POOL, REDIS, SETTINGS
from control_plane.errors import Unauthorized

Principal = Caller


def check_origin_if_present(request: web.Request) -> None:
    """For the routes that work without a cookie (sign-up, login, confirmation, password
    reset): refuse a foreign Origin (login CSRF), accept none (the CLI, curl)."""
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.app[SETTINGS].app_origins, required=False):
        raise ForeignOrigin()


async def authenticate(request: web.Request) -> Principal:
    settings = request.app[SETTINGS]
    return await auth.authenticate(
        Credentials.of(request),
        redis=request.app[REDIS],
        prefix=settings.redis_prefix,
        connect=request.app[POOL].connection,
        allowed_origins=settings.app_origins,
    )


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
