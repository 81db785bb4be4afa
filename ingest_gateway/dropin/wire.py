"""What every drop-in format shares: the request it reads, the events it makes, its answers.

A format (``segment``, ``posthog``, ``mixpanel``) is a pure translation: a ``WireRequest``
becomes a ``Translated`` (the key it carried and our events, one per message, in order, so
a refusal's ``details[].index`` is the message's index in the product's own batch); an
accepted count or a refusal becomes the body that product's clients expect. Everything in
between (key look-up, origin and tracking-plan checks, validation, rate limit, quota,
lanes, the acknowledged append) is ``ingest_gateway.ingest`` — the same path as ``POST /``.
"""

import base64
import binascii
import contextlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from contracts.events import DERIVE_SESSION
from ingest_gateway.errors import IngestError

# Our event fields a translation fills (``sessionId`` may be left out: mark_sessionless).
EVENT = "event"
TIMESTAMP = "timestamp"
DISTINCT_ID = "distinctId"
SESSION_ID = "sessionId"
PROPERTIES = "properties"
INSERT_ID = "insertId"
ANON_ID = "$anonDistinctId"  # stream_workers.identity: an event carrying it merges two ids
IDENTIFY = "$identify"


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One request as a format reads it; ``body`` is already inflated (Content-Encoding)."""

    path: str
    body: bytes
    content_type: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    authorization: str | None = None


@dataclass(frozen=True, slots=True)
class Translated:
    """The key the request carried (None: none) and our events, one per message; with
    ``contexts`` (one per event, or none at all), what the message said of its end user
    (``end_user``), which the workers' enrichment reads instead of the HTTP request's; and
    whether the request's own address is the end user's (``request_address``: not when a
    server says it relays its users' calls, as Mixpanel's ``ip=0``)."""

    api_key: str | None
    events: list[Any]
    max_events: int
    contexts: list[dict[str, str]] = field(default_factory=list)
    may_hold_nul: bool = True  # as validation.Payload's: False lets validation skip a scan
    request_address: bool = True

    def __post_init__(self) -> None:
        if self.contexts and len(self.contexts) != len(self.events):
            raise ValueError("a context per event, or none")  # a format's bug, not input


CONTEXT_MAX = 512  # characters of a user agent, as the gateway keeps the request's


def end_user(user_agent: Any, ip: Any) -> dict[str, str]:
    """A message's own account of its end user (a server-side library sends the browser's
    agent and address in the body: Segment's ``context.userAgent``/``context.ip``,
    PostHog's ``$raw_user_agent``/``$ip``, Mixpanel's ``ip``), as record context: the agent
    when it is a string, the address only when it is one."""
    context: dict[str, str] = {}
    if isinstance(user_agent, str) and user_agent:
        context["userAgent"] = user_agent[:CONTEXT_MAX]
    if isinstance(ip, str):
        with contextlib.suppress(ValueError):
            context["ip"] = str(ipaddress.ip_address(ip.strip()))
    return context


class WireFormat(Protocol):
    name: str  # the label of ingest_dropin_requests_total
    paths: tuple[str, ...]  # the routes it answers on the ingest service
    max_body_bytes: int  # inflated; over it, the format's 413

    def translate(self, request: WireRequest) -> Translated: ...

    def accepted(self, request: WireRequest, count: int) -> web.Response: ...

    def refused(self, request: WireRequest, error: IngestError) -> web.Response: ...


def basic_auth_user(authorization: str | None) -> str | None:
    """The user of an HTTP Basic ``Authorization`` header (Segment's write key, Mixpanel's
    /import credentials), or None when there is none or it is not Basic."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user = decoded.partition(":")[0]
    return user or None


def may_hold_nul(body: bytes) -> bool:
    """Whether a string of the body's events may hold U+0000 (which PostgreSQL's jsonb
    refuses, so validation looks for it): False only for a body that is plain JSON text
    with no ``\\u0000`` escape (a raw NUL is not valid JSON); an encoded body (form,
    base64, gzip-js) may hide one."""
    return not (body.lstrip()[:1] in (b"{", b"[") and b"\\u0000" not in body)


def with_details(body: dict[str, Any], error: IngestError) -> dict[str, Any]:
    """``body`` plus our refusal's ``details`` (and ``omittedDetails``) when it has them."""
    for name in ("details", "omittedDetails"):
        if name in error.body:
            body[name] = error.body[name]
    return body


def mark_sessionless(events: list[Any]) -> None:
    """Give each event its product sent no session id ``$derive`` (in place): the stream
    workers derive its session, one per 30 idle minutes per distinct id
    (stream_workers/sessions.py). Anything not an event is left to validation."""
    for event in events:
        if type(event) is dict and not event.get(SESSION_ID):
            event[SESSION_ID] = DERIVE_SESSION
