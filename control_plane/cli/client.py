"""The CLI's side of the App API: stored credentials (0600) and JSON requests over urllib."""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from contracts.sessions import SESSION_COOKIE

DEFAULT_URL = "http://127.0.0.1:8081"
CREDENTIALS_FILE = "credentials.json"
TIMEOUT_SECONDS = 30.0


class CliError(click.ClickException):
    """One clear line on stderr and exit status 1."""


def config_dir() -> Path:
    override = os.environ.get("RA_CLI_CONFIG_DIR")
    return Path(override) if override else Path(click.get_app_dir("realanalytics"))


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    access_token: str


def load_credentials() -> Credentials | None:
    path = config_dir() / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        return Credentials(url=str(data["url"]), access_token=str(data["accessToken"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_credentials(credentials: Credentials) -> Path:
    """Write the access token readable by the user only (0600, set before any byte)."""
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode otherwise
        json.dump({"url": credentials.url, "accessToken": credentials.access_token}, handle)
    return path


def forget_credentials() -> None:
    (config_dir() / CREDENTIALS_FILE).unlink(missing_ok=True)


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def error_line(status: int, body: Any) -> str:
    """The server's answer as one line: its error and the first few details."""
    if not isinstance(body, dict):
        return f"HTTP {status}"
    message = str(body.get("error", f"HTTP {status}"))
    details = body.get("details") or []
    parts = [
        f"{d.get('field') or 'body'}: {d.get('message')}"
        for d in details[:5]
        if isinstance(d, dict)
    ]
    if len(details) > 5:
        parts.append(f"and {len(details) - 5} more")
    return f"{message} ({'; '.join(parts)})" if parts else message


class AppClient:
    def __init__(self, url: str, access_token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.access_token = access_token
        self.session_cookie: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> tuple[int, Any]:
        """``(status, json)``; a status outside ``ok`` raises ``CliError`` with the reason."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if self.access_token:
            all_headers["Authorization"] = f"Bearer {self.access_token}"
        elif self.session_cookie:
            all_headers["Cookie"] = f"{SESSION_COOKIE}={self.session_cookie}"
            all_headers["Origin"] = origin_of(self.url)  # the App API's own origin
        request = urllib.request.Request(  # noqa: S310 - the user's own App API URL
            self.url + path, data=data, headers=all_headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                status, raw, cookies = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, raw, cookies = exc.code, exc.read(), exc.headers
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the App API at {self.url}: {reason}") from exc
        self._keep_session(cookies.get_all("Set-Cookie") or [])
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        if status not in ok:
            raise CliError(error_line(status, payload))
        return status, payload

    def _keep_session(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            name, _, rest = header.partition("=")
            if name.strip() == SESSION_COOKIE:
                self.session_cookie = rest.split(";", 1)[0] or None
