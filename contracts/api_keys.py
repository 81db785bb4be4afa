"""Project API keys: how they look, how they are made and how they are stored (hashed)."""

import hashlib
import hmac
import secrets
from enum import StrEnum

PUBLIC_PREFIX = "pk_live_"
SECRET_PREFIX = "sk_live_"  # noqa: S105 - a prefix, not a secret
_KEY_BYTES = 24


class KeyKind(StrEnum):
    PUBLIC = "public"
    SECRET = "secret"  # noqa: S105 - a key kind, not a secret


def generate_key(kind: KeyKind) -> str:
    prefix = PUBLIC_PREFIX if kind is KeyKind.PUBLIC else SECRET_PREFIX
    return prefix + secrets.token_urlsafe(_KEY_BYTES)


def hash_key(key: str) -> bytes:
    """SHA-256 of the key: keys are 192-bit random, so a fast hash is safe and lets the
    public key be looked up by its hash."""
    return hashlib.sha256(key.encode()).digest()


def key_hint(key: str) -> str:
    """What may be shown or logged of a key: its prefix and last four characters."""
    return f"{key[:8]}…{key[-4:]}"


def looks_like_secret_key(key: str) -> bool:
    return key.startswith("sk_")


def hashes_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
