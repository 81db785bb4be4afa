"""One keep-alive HTTP connection to the ingest gateway (standard library ``http.client``).

Not thread-safe: each sender thread of ``Client`` owns one.
"""

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from realanalytics_sdk.version import VERSION

USER_AGENT = f"realanalytics-python/{VERSION}"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (connection refused, reset, timed out)
    body: bytes = b""
    retry_after: str | None = None


def encode_batch(events: list[dict[str, Any]]) -> bytes:
    # default=str: a datetime or Decimal in properties is sent as text instead of
    # failing the whole batch at send time, far from the track() that added it.
    return json.dumps(events, separators=(",", ":"), default=str).encode()


def ingest_target(host: str) -> tuple[str, str, str]:
    """``(scheme, netloc, path)`` of the ingest URL; the path defaults to ``/``."""
    parts = urlsplit(host if "://" in host else f"https://{host}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"host must be an http(s) URL, got {host!r}")
    return parts.scheme, parts.netloc, parts.path or "/"


class HttpTransport:
    def __init__(self, host: str, public_key: str, timeout: float) -> None:
        self._scheme, self._netloc, self._path = ingest_target(host)
        self._timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "X-API-Key": public_key,
            "User-Agent": USER_AGENT,
        }
        self._conn: http.client.HTTPConnection | None = None

    def send(self, body: bytes) -> Answer:
        # A kept-alive connection the server has meanwhile closed fails at once; one
        # immediate retry on a fresh connection tells that apart from a real outage.
        # (A repeat is harmless: every event carries its insertId.)
        reused = self._conn is not None
        answer = self._send_once(body)
        if answer.status is None and reused:
            answer = self._send_once(body)
        return answer

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send_once(self, body: bytes) -> Answer:
        if self._conn is None:
            connection_class = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = connection_class(self._netloc, timeout=self._timeout)
        try:
            self._conn.request("POST", self._path, body=body, headers=self._headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return Answer(None)
        if response.will_close:
            self.close()
        return Answer(response.status, data, response.getheader("Retry-After"))
