"""What the clients send batches through: the ``Transport`` protocol and its ``Answer``.

``Client`` uses ``connections.ConnectionPool`` (standard library), ``AsyncClient`` an
aiohttp session; tests and the benchmark pass transports of their own.
"""

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from realanalytics_sdk.version import VERSION

USER_AGENT = f"realanalytics-python/{VERSION}"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (connection refused, reset, timed out)
    body: bytes = b""
    retry_after: str | None = None


class Transport(Protocol):
    async def send(self, body: bytes) -> Answer:
        """POST one batch (a JSON array) and return the answer; never raises for I/O."""
        ...

    async def close(self) -> None: ...


def check_public_key(public_key: str) -> None:
    """``ValueError`` unless ``public_key`` can be a project's public (ingest) key."""
    if not public_key:
        raise ValueError("public_key is required (a pk_… key)")
    if public_key.startswith("sk_"):
        raise ValueError("use the project's public key (pk_…), never its secret key")


def ingest_target(host: str) -> tuple[str, str, str]:
    """``(scheme, netloc, path)`` of the ingest URL; the path defaults to ``/``."""
    parts = urlsplit(host if "://" in host else f"https://{host}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"host must be an http(s) URL, got {host!r}")
    return parts.scheme, parts.netloc, parts.path or "/"
