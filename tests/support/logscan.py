"""Finding keys, tokens, passwords and event payloads in log files: the check behind
"never log a key or a payload" (docs/security.md).

Two kinds of evidence. Shapes: every credential the stack issues has a prefix
(``pk_live_``, ``sk_live_``, ``ra_cli_``, ``ra_once_``, ``ra_confirm_``, …) followed by
``secrets.token_urlsafe`` text, and a session id travels as ``ra_session=…``; a run of
such text after a prefix is a leak whoever made it. Known values: what has no shape (a
password, a bare session id, a marker planted in an event's properties) is registered by
the test that handles it, in ``SecretsSeen``, and searched for literally.

A finding names the file, the line and what was found — never the value, so the report
of a leak does not leak it again.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.api_keys import PUBLIC_PREFIX, SECRET_PREFIX
from contracts.sessions import ACCESS_TOKEN_PREFIX, LOGIN_TOKEN_PREFIX, SESSION_COOKIE
from control_plane.accounts import CONFIRM_PREFIX, RESET_PREFIX
from control_plane.invitations import INVITE_PREFIX

# Issued keys and tokens carry 32 (keys) or 43 (tokens) characters after the prefix; 20 or
# more is a key or a large piece of one, while what may be shown (``key_hint``: the prefix,
# "…" and the last four) stays below it.
_TOKEN_TEXT = r"[A-Za-z0-9_-]{20,}"

SHAPES: Mapping[str, re.Pattern[str]] = {
    label: re.compile(re.escape(prefix) + _TOKEN_TEXT)
    for label, prefix in (
        ("public key", PUBLIC_PREFIX),
        ("secret key", SECRET_PREFIX),
        ("CLI access token", ACCESS_TOKEN_PREFIX),
        ("CLI login token", LOGIN_TOKEN_PREFIX),
        ("confirmation code", CONFIRM_PREFIX),
        ("password reset code", RESET_PREFIX),
        ("invitation code", INVITE_PREFIX),
        ("session cookie", f"{SESSION_COOKIE}="),
    )
} | {
    # A password's stored hash is as good as the password to an offline guesser.
    "password hash": re.compile(r"\$argon2(?:id|i|d)\$"),
}

# A registered value shorter than this would turn up in logs by chance.
MIN_KNOWN_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class SecretsSeen:
    """Values handed to the services that must never reach a log, each with a label
    (what it is, shown in a finding instead of the value)."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def register(self, value: str, label: str) -> str:
        """Remember ``value``; returned, so a test can register where it makes one."""
        if len(value) < MIN_KNOWN_LENGTH:
            raise ValueError(f"a {label} of {len(value)} characters would match by chance")
        self._labels[value] = label
        return value

    def labels(self) -> dict[str, str]:
        return dict(self._labels)


def _known_pattern(known: Mapping[str, str]) -> re.Pattern[str] | None:
    if not known:
        return None
    # Longest first, so a value that contains another is reported as itself.
    values = sorted(known, key=len, reverse=True)
    return re.compile("|".join(re.escape(value) for value in values))


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def scan_text(text: str, known: Mapping[str, str] = {}) -> list[tuple[int, str]]:
    """(line, what) of every key-shaped text and every ``known`` value (value -> label)
    in ``text``, in order."""
    hits = [
        (match.start(), label) for label, shape in SHAPES.items() for match in shape.finditer(text)
    ]
    pattern = _known_pattern(known)
    if pattern is not None:
        hits += [(m.start(), f"registered {known[m.group(0)]}") for m in pattern.finditer(text)]
    return [(_line_of(text, position), what) for position, what in sorted(hits)]


def scan_files(paths: Iterable[Path], known: Mapping[str, str] = {}) -> list[Finding]:
    """``scan_text`` over each file (bytes that are not UTF-8 read as replacement
    characters: a log may hold anything)."""
    return [
        Finding(path, line, what)
        for path in paths
        for line, what in scan_text(path.read_bytes().decode("utf-8", "replace"), known)
    ]


def log_files(directory: Path) -> Iterator[Path]:
    """Every regular file under ``directory``, in a stable order."""
    return (path for path in sorted(directory.rglob("*")) if path.is_file())


def report(findings: Iterable[Finding], limit: int = 20) -> str:
    """The findings for a failure message, at most ``limit`` of them."""
    found = list(findings)
    lines = [str(finding) for finding in found[:limit]]
    if len(found) > limit:
        lines.append(f"… and {len(found) - limit} more")
    return "\n".join(lines)
