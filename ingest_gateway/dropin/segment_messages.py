"""One Segment message → our event: the mapping table of docs/dropin.md (Segment), as pure
functions (``ingest_gateway.dropin.segment`` is the format around them).

A message that cannot be mapped raises ``Problem`` naming Segment's own field; what can be
is left to our event contract (``ingest_gateway.validation``) to judge, as on ``POST /``.
The sender's own properties win over the ones derived here (``$pathname`` …), except
``$anonDistinctId``, which only the ids decide.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.events import MAX_INSERT_ID
from ingest_gateway.dropin.wire import (
    ANON_ID,
    DISTINCT_ID,
    EVENT,
    IDENTIFY,
    INSERT_ID,
    PROPERTIES,
    SESSION_ID,
    TIMESTAMP,
    end_user,
)
from ingest_gateway.limits import MAX_STRING_BYTES
from ingest_gateway.validation import parse_timestamp

EVENT_NAMES = {
    "page": "$pageview",
    "screen": "$screen",
    "identify": IDENTIFY,
    "alias": IDENTIFY,
    "group": "$group",
}
KINDS = frozenset({"track", *EVENT_NAMES})
TRAIT_PREFIX = "traits."  # identify's and group's traits, apart from our `$` keys
# Our page properties ← context.page's (and a page call's own properties') fields.
PAGE_FIELDS = (
    ("$pathname", "path"),
    ("$url", "url"),
    ("$referrer", "referrer"),
    ("$title", "title"),
)
# context.campaign (analytics.js reads it from the page's utm_ tags) → the UTM tags the
# workers' channel rules read (stream_workers.channels.UTM_KEYS).
CAMPAIGN_FIELDS = (
    ("utm_campaign", "name"),
    ("utm_source", "source"),
    ("utm_medium", "medium"),
    ("utm_term", "term"),
    ("utm_content", "content"),
)
AMPLITUDE = "Actions Amplitude"  # its session plugin puts session_id in the integrations


class Problem(Exception):
    """A message that cannot be mapped: its Segment field (None: the message) and why."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the request says around its messages: the batch's ``sentAt`` and ``context``,
    and when it arrived (the fallback time, and the base of the clock-skew correction)."""

    received: datetime
    sent_at: datetime | None = None
    context: dict[str, Any] | None = None


def message_event(
    message: Any, route_kind: str | None, envelope: Envelope
) -> tuple[dict[str, Any], dict[str, str]]:
    """One Segment message as our event (sessionId left out when it carries none: derived),
    and its end user's agent and address (``context.userAgent``/``ip``: a server library
    relays its user's) as record context, which the workers' enrichment reads."""
    if type(message) is not dict:
        raise Problem(None, "Message must be a JSON object.")
    kind = route_kind or message.get("type")
    if type(kind) is not str or kind not in KINDS:
        raise Problem("type", f"Must be one of: {', '.join(sorted(KINDS))}.")
    context = object_field(message, "context")
    if envelope.context:
        context = {**envelope.context, **context}
    distinct, anon = _ids(message, kind)
    if kind == "identify" or kind == "group":
        properties = {TRAIT_PREFIX + k: v for k, v in object_field(message, "traits").items()}
    else:
        properties = object_field(message, PROPERTIES)  # the message's own: changed in place
    if kind == "page" or kind == "screen":
        _add_call_page(properties, message, kind)
    _add_context(properties, context)
    if kind == "group":
        properties.setdefault("$group_id", _id(message, "groupId", required=True))
    if anon is not None and anon != distinct:
        properties[ANON_ID] = anon  # stream_workers.identity merges it into distinct
    event: dict[str, Any] = {
        EVENT: _event_name(message, kind),
        TIMESTAMP: _moment(message, envelope),
        DISTINCT_ID: distinct,
        PROPERTIES: properties,
        INSERT_ID: _insert_id(message),
    }
    session = _session(message, context)
    if session is not None:
        event[SESSION_ID] = session
    if "userAgent" not in context and "ip" not in context:
        return event, {}  # the common case (a browser's own call), decided at once
    return event, end_user(context.get("userAgent"), context.get("ip"))


def _ids(message: dict[str, Any], kind: str) -> tuple[str, str | None]:
    """The distinct id and the id to merge into it (alias: previousId; else anonymousId
    when the message also names the user)."""
    if kind == "alias":
        return str(_id(message, "userId", required=True)), _id(message, "previousId", required=True)
    user, anonymous = _id(message, "userId"), _id(message, "anonymousId")
    if user is not None:
        return user, anonymous
    if anonymous is None:
        raise Problem("userId", "userId or anonymousId is required.")
    return anonymous, None


def _id(message: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = message.get(name)
    if type(value) is str and value:
        return value
    if value is None or value == "":
        if required:
            raise Problem(name, "Required.")
        return None
    if type(value) is int:  # the libraries send strings; a hand-made call may not
        return str(value)
    raise Problem(name, "Must be a string.")


def object_field(message: dict[str, Any], name: str) -> dict[str, Any]:
    value = message.get(name)
    if value is None:
        return {}
    if type(value) is not dict:
        raise Problem(name, "Must be a JSON object.")
    return value


def _event_name(message: dict[str, Any], kind: str) -> str:
    if kind != "track":
        return EVENT_NAMES[kind]
    name = message.get("event")
    if type(name) is not str:
        raise Problem("event", "Required for a track call (a string).")
    return name


def _add_call_page(properties: dict[str, Any], message: dict[str, Any], kind: str) -> None:
    """A page call's page properties from its own properties (Segment's page spec), and a
    page's or screen's name and category, as analytics.js copies them into its properties;
    the sender's own properties of the same names win."""
    if kind == "page":
        _add_page(properties, properties)
    if type(name := message.get("name")) is str:
        properties.setdefault("name", name)
    if type(category := message.get("category")) is str:
        properties.setdefault("category", category)
    if kind == "screen" and type(screen := properties.get("name")) is str:
        properties.setdefault("$screen_name", screen)


def _add_context(properties: dict[str, Any], context: dict[str, Any]) -> None:
    """Our page and campaign properties from ``context.page`` and ``context.campaign`` (every
    call's); the sender's own properties and a page call's own page win."""
    if type(page := context.get("page")) is dict:
        _add_page(properties, page)
    campaign = context.get("campaign")
    if type(campaign) is dict:
        for ours, theirs in CAMPAIGN_FIELDS:
            if type(value := campaign.get(theirs)) is str and value:
                properties.setdefault(ours, _cut(value))


def _add_page(properties: dict[str, Any], page: dict[str, Any]) -> None:
    for ours, theirs in PAGE_FIELDS:
        if ours not in properties and type(value := page.get(theirs)) is str:
            properties[ours] = value if len(value) <= _SHORT else _cut(value)


_SHORT = MAX_STRING_BYTES // 4  # characters within the cap whatever they are


def _cut(text: str) -> str:
    """A value we copy from the context, within our string cap (a long URL is cut, not a
    reason to refuse the batch it came in)."""
    if len(text) <= _SHORT:
        return text
    return text.encode()[:MAX_STRING_BYTES].decode(errors="ignore")


def _moment(message: dict[str, Any], envelope: Envelope) -> Any:
    """The message's time as a UTC datetime, as validation takes it: ``timestamp`` (left as
    sent when it is not a date, for validation to name); else ``originalTimestamp``
    corrected for the sender's clock (Segment's receivedAt - (sentAt - originalTimestamp))
    when a ``sentAt`` says how long ago it was sent, as is without one; else the receive
    time."""
    stamp = message.get("timestamp")
    if stamp is not None:
        moment = parse_timestamp(stamp) if type(stamp) is str else None
        return stamp if moment is None else moment
    original = time_field(message, "originalTimestamp")
    if original is None:
        return envelope.received
    sent = time_field(message, "sentAt") or envelope.sent_at
    if sent is None:
        return original
    try:
        return envelope.received - (sent - original)
    except OverflowError as exc:
        raise Problem("originalTimestamp", _OUT_OF_RANGE) from exc


_OUT_OF_RANGE = "Out of range once corrected by sentAt (receivedAt - (sentAt - originalTimestamp))."


def time_field(document: dict[str, Any], name: str) -> datetime | None:
    value = document.get(name)
    if value is None:
        return None
    if type(value) is not str:
        raise Problem(name, "Must be an ISO 8601 string.")
    moment = parse_timestamp(value)
    if moment is None:
        raise Problem(name, "Not a valid ISO 8601 timestamp.")
    return moment


def _insert_id(message: dict[str, Any]) -> str | None:
    """``messageId``, or a stable hash of one longer than our insertId (64 characters)."""
    value = _id(message, "messageId")
    if value is None or len(value) <= MAX_INSERT_ID:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return "sha256:" + digest[:56]


def _session(message: dict[str, Any], context: dict[str, Any]) -> str | None:
    """``context.sessionId``, else the Amplitude (Actions) session plugin's ``session_id``;
    None (derived then) without either."""
    value = context.get("sessionId")
    if value is None and "integrations" not in message:
        return None  # the common case (no session id sent: derived), decided at once
    integrations = message.get("integrations")
    plugin = integrations.get(AMPLITUDE) if type(integrations) is dict else None
    if value is None and type(plugin) is dict:
        value = plugin.get("session_id")
    if type(value) is int or (type(value) is str and value):
        return str(value)
    return None
