"""App sessions and CLI tokens: the control plane issues them, every App API service
checks them (``common.auth``).

Browser sessions live in Redis::

    {prefix}session:{sha256hex(session_id)}  ->  {"userId": "<uuid>", "email": "…",
                                                   "createdAt": "<ISO 8601 UTC>"}
    (a string key with a TTL; the session id itself is only in the cookie)

The cookie is ``ra_session=<session_id>`` (HttpOnly, SameSite=Lax, Path=/, Secure when
configured). CLI access tokens (``Authorization: Bearer ra_cli_…``) are rows of the
``cli_access_tokens`` table, found by ``sha256(token)`` with ``revoked_at IS NULL``.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

SESSION_COOKIE = "ra_session"
SESSION_TTL_SECONDS = 14 * 24 * 3600
ACCESS_TOKEN_PREFIX = "ra_cli_"  # noqa: S105 - a prefix, not a secret
LOGIN_TOKEN_PREFIX = "ra_once_"  # noqa: S105 - a prefix, not a secret
_TOKEN_BYTES = 32
# What a token we issued looks like (``secrets.token_urlsafe`` after its prefix); a bearer
# header holding anything else is refused before any lookup.
_ACCESS_TOKEN = re.compile(re.escape(ACCESS_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{1,200}")


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    email: str
    created_at: datetime


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(_TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    """SHA-256 of a session id or token: they are 256-bit random, so a fast hash suffices.

    A cookie with non-UTF-8 bytes reaches us as lone surrogates (aiohttp decodes headers
    with ``surrogateescape``); they hash like any other garbage and match no session."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def session_key(prefix: str, session_id: str) -> str:
    return f"{prefix}session:{token_digest(session_id).hex()}"


def encode_session(session: Session) -> bytes:
    return orjson.dumps(
        {
            "userId": session.user_id,
            "email": session.email,
            "createdAt": session.created_at.astimezone(UTC).isoformat(),
        }
    )


def decode_session(raw: bytes | str | None) -> Session | None:
    """The stored session, or ``None`` for a missing or unreadable entry."""
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
        return Session(
            user_id=str(data["userId"]),
            email=str(data["email"]),
            created_at=datetime.fromisoformat(data["createdAt"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ra_cli_…`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _ACCESS_TOKEN.fullmatch(token):
        return None
    return token
