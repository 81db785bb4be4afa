"""Who is calling: a session cookie or a CLI bearer token, and the Origin rule for cookies.

Cookies are sent by browsers on cross-site requests too, so a write authenticated by the
cookie must carry an ``Origin`` of the App API itself. Bearer tokens are never sent
implicitly, so bearer requests need no such check.
"""

from dataclasses import dataclass

from aiohttp import web

from contracts.sessions import SESSION_COOKIE, bearer_token
from control_plane.accounts import find_user
from control_plane.cli_tokens import user_for_access_token
from control_plane.errors import Forbidden, Unauthorized
from control_plane.keys import POOL, SESSIONS, SETTINGS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    email: str
    via: str  # "session" or "bearer"


def origin_allowed(method: str, origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a cookie-authenticated request may go ahead: reads always, writes only
    with an ``Origin`` header naming the App API."""
    if method.upper() in SAFE_METHODS:
        return True
    return origin is not None and origin in allowed


def check_origin_if_present(request: web.Request) -> None:
    """For sign-up and login (no cookie yet): refuse a foreign Origin (login CSRF), accept
    none (the CLI, curl)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin not in request.app[SETTINGS].app_origins:
        raise Forbidden("Origin not allowed")


async def authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization")
    if header is not None:
        token = bearer_token(header)
        if token is None:
            raise Unauthorized("Invalid access token")
        async with request.app[POOL].connection() as conn:
            user_id = await user_for_access_token(conn, token)
            user = await find_user(conn, user_id) if user_id else None
        if user is None:
            raise Unauthorized("Invalid access token")
        return Principal(user.id, user.email, "bearer")
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise Unauthorized()
    session = await request.app[SESSIONS].get(session_id)
    if session is None:
        raise Unauthorized("Session expired or invalid")
    if not origin_allowed(
        request.method, request.headers.get("Origin"), request.app[SETTINGS].app_origins
    ):
        raise Forbidden("Origin not allowed")
    return Principal(session.user_id, session.email, "session")


async def require_session(request: web.Request) -> Principal:
    """Endpoints a browser session must call itself (creating CLI tokens)."""
    principal = await authenticate(request)
    if principal.via != "session":
        raise Unauthorized("A logged-in session is required")
    return principal
