"""Segment's HTTP Tracking API as a drop-in format: its calls become our events, one each.

The routes are Segment's (``/v1/track``, ``/page``, ``/screen``, ``/identify``, ``/alias``,
``/group``, ``/batch``) and analytics.js's one-letter ones (``/v1/t``, ``/p``, ``/s``, ``/i``,
``/a``, ``/g``, ``/b``). The write key is the HTTP Basic user (the server libraries) or the
body's ``writeKey`` (analytics.js, which sends ``text/plain`` to avoid a CORS preflight: the
content type is not read). The mapping (docs/dropin-segment.md has the table) is
``message_event``; a message's ``context.userAgent`` and ``context.ip`` (a server library
relaying its user's) become its record's context, which the workers enrich from, instead
of the request's own. What it cannot map names Segment's own field in the refusal, and what our
event contract then refuses (``ingest_gateway.validation``) is renamed back by
``segment_field``, so every detail speaks of the request as it was sent.

Limits are Segment's documented ones: 32 KB per message (its compact JSON; a body within
32 KB is not measured again, since no message in it can be larger), 500 KB per request
(inflated). Segment documents no message count; 2,500 is above what any Segment library
sends within 500 KB (analytics-python's smallest message is ~280 bytes, and it stops a batch
at 475,000 bytes: ~1,700 messages) and bounds the per-request work of hand-made batches of
tiny messages.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

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
    Translated,
    WireRequest,
    basic_auth_user,
    end_user,
    with_details,
)
from ingest_gateway.errors import IngestError, ValidationFailed
from ingest_gateway.limits import MAX_STRING_BYTES
from ingest_gateway.validation import body_error, parse_timestamp

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_MESSAGES = 2_500

# Route → the call type it implies (None: a batch, each message names its own type).
ROUTES: dict[str, str | None] = {
    "/v1/track": "track",
    "/v1/t": "track",
    "/v1/page": "page",
    "/v1/p": "page",
    "/v1/screen": "screen",
    "/v1/s": "screen",
    "/v1/identify": "identify",
    "/v1/i": "identify",
    "/v1/alias": "alias",
    "/v1/a": "alias",
    "/v1/group": "group",
    "/v1/g": "group",
    "/v1/batch": None,
    "/v1/b": None,
}
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
    context = _object(message, "context")
    if envelope.context:
        context = {**envelope.context, **context}
    distinct, anon = _ids(message, kind)
    if kind in ("identify", "group"):
        properties = {TRAIT_PREFIX + k: v for k, v in _object(message, "traits").items()}
    else:
        properties = dict(_object(message, PROPERTIES))
    _add_context(properties, context, message, kind)
    if kind == "group":
        properties.setdefault("$group_id", _id(message, "groupId", required=True))
    if anon is not None and anon != distinct:
        properties[ANON_ID] = anon  # stream_workers.identity merges it into distinct
    event: dict[str, Any] = {
        EVENT: _event_name(message, kind),
        TIMESTAMP: _moment(message, envelope),
        DISTINCT_ID: distinct,
        PROPERTIES: properties,
    }
    insert_id = _insert_id(message)
    if insert_id is not None:
        event[INSERT_ID] = insert_id
    session = _session(message, context)
    if session is not None:
        event[SESSION_ID] = session
    return event, end_user(context.get("userAgent"), context.get("ip"))


def _ids(message: dict[str, Any], kind: str) -> tuple[str, str | None]:
    """The distinct id and the id to merge into it (alias: previousId; else anonymousId
    when the message also names the user)."""
    user = _id(message, "userId", required=kind == "alias")
    if kind == "alias":
        return str(user), _id(message, "previousId", required=True)
    anonymous = _id(message, "anonymousId")
    if user is not None:
        return user, anonymous
    if anonymous is None:
        raise Problem("userId", "userId or anonymousId is required.")
    return anonymous, None


def _id(message: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = message.get(name)
    if type(value) is str and value:
        return value
    if type(value) is int:  # the libraries send strings; a hand-made call may not
        value = str(value)
    if value is None or value == "":
        if required:
            raise Problem(name, "Required.")
        return None
    if type(value) is not str:
        raise Problem(name, "Must be a string.")
    return value


def _object(message: dict[str, Any], name: str) -> dict[str, Any]:
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


def _add_context(
    properties: dict[str, Any], context: dict[str, Any], message: dict[str, Any], kind: str
) -> None:
    """Our page, screen and campaign properties from the message; the sender's own
    properties of the same names win."""
    if kind == "page":  # a page call's own properties first (Segment's page spec) ...
        _add_page(properties, properties)
    if type(page := context.get("page")) is dict:  # ... then context.page (every call)
        _add_page(properties, page)
    if kind in ("page", "screen"):
        # analytics.js copies a page's name and category into its properties too.
        for name in ("name", "category"):
            if type(value := message.get(name)) is str:
                properties.setdefault(name, value)
    if kind == "screen" and type(screen := properties.get("name")) is str:
        properties.setdefault("$screen_name", screen)
    campaign = context.get("campaign")
    if type(campaign) is dict:
        for ours, theirs in CAMPAIGN_FIELDS:
            if type(value := campaign.get(theirs)) is str and value:
                properties.setdefault(ours, _cut(value))


def _add_page(properties: dict[str, Any], page: dict[str, Any]) -> None:
    for ours, theirs in PAGE_FIELDS:
        value = page.get(theirs)
        if type(value) is str and ours not in properties:
            properties[ours] = _cut(value)


def _cut(text: str) -> str:
    """A value we copy from the context, within our string cap (a long URL is cut, not a
    reason to refuse the batch it came in)."""
    if len(text) <= MAX_STRING_BYTES // 4:  # within the cap whatever the characters
        return text
    return text.encode()[:MAX_STRING_BYTES].decode(errors="ignore")


def _moment(message: dict[str, Any], envelope: Envelope) -> Any:
    """``timestamp`` as sent (validation parses it, and names it if it is not a date); else
    ``originalTimestamp`` corrected for the sender's clock (Segment's receivedAt - (sentAt -
    originalTimestamp)) when a ``sentAt`` says how long ago it was sent, as is without one;
    else the receive time."""
    stamp = message.get("timestamp")
    if stamp is not None:
        return stamp
    original = _time(message, "originalTimestamp")
    if original is None:
        return envelope.received.isoformat()
    sent = _time(message, "sentAt") or envelope.sent_at
    if sent is None:
        return original.isoformat()
    try:
        return (envelope.received - (sent - original)).isoformat()
    except OverflowError as exc:
        raise Problem("originalTimestamp", _OUT_OF_RANGE) from exc


_OUT_OF_RANGE = "Out of range once corrected by sentAt (receivedAt - (sentAt - originalTimestamp))."


def _time(document: dict[str, Any], name: str) -> datetime | None:
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
    integrations = message.get("integrations")
    plugin = integrations.get(AMPLITUDE) if type(integrations) is dict else None
    if value is None and type(plugin) is dict:
        value = plugin.get("session_id")
    if type(value) is int or (type(value) is str and value):
        return str(value)
    return None


# Our event's fields, as a refusal names them, → the Segment field they came from.
_FIELDS = {DISTINCT_ID: "userId", INSERT_ID: "messageId", SESSION_ID: "context.sessionId"}


def segment_field(detail: dict[str, Any]) -> dict[str, Any]:
    """A refusal's detail with our field name as the Segment field it came from."""
    field = detail.get("field")
    if type(field) is not str:
        return detail
    if field.startswith(f"{PROPERTIES}.{TRAIT_PREFIX}"):
        return {**detail, "field": field[len(PROPERTIES) + 1 :]}
    return {**detail, "field": _FIELDS.get(field, field)}


class SegmentFormat:
    name = "segment"
    paths = tuple(ROUTES)
    max_body_bytes = MAX_BATCH_BYTES

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now

    def translate(self, request: WireRequest) -> Translated:
        document = _document(request.body)
        route_kind = ROUTES.get(request.path)
        api_key = basic_auth_user(request.authorization) or _write_key(document)
        messages = [document] if route_kind is not None else _batch(document)
        try:
            envelope = Envelope(
                self._now(),
                _time(document, "sentAt") if route_kind is None else None,
                _object(document, "context") if route_kind is None else None,
            )
        except Problem as problem:
            raise body_error(problem.message, field=problem.field) from problem
        measure = len(request.body) > MAX_MESSAGE_BYTES
        events: list[Any] = []
        contexts: list[dict[str, str]] = []
        details: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            try:
                if measure:
                    _measure(message)
                event, context = message_event(message, route_kind, envelope)
            except Problem as problem:
                details.append({"index": index, "field": problem.field, "message": problem.message})
                continue
            events.append(event)
            contexts.append(context)
        if details:
            raise ValidationFailed(details)
        return Translated(
            api_key=api_key,
            events=events,
            max_events=MAX_MESSAGES,
            contexts=contexts if any(contexts) else [],  # none: the request's, for all
        )

    def accepted(self, request: WireRequest, count: int) -> web.Response:
        return web.json_response({"success": True})  # what Segment's clients expect

    def refused(self, request: WireRequest, error: IngestError) -> web.Response:
        """Our refusal as Segment's error shape (``code`` and ``message``, which its
        libraries log), with every detail."""
        body: dict[str, Any] = {
            "success": False,
            "code": str(error.body.get("code") or error.reason),
            "message": str(error.body.get("error", "error")),
        }
        body.update(
            (k, v)
            for k, v in error.body.items()  # the quota's limit, used, remaining
            if k not in ("error", "code", "details", "omittedDetails")
        )
        body = with_details(body, error)
        if type(details := body.get("details")) is list:
            body["details"] = [segment_field(d) if type(d) is dict else d for d in details]
        return web.json_response(body, status=error.status)


def _measure(message: Any) -> None:
    """Segment's cap on one message, on its compact JSON."""
    try:
        size = len(orjson.dumps(message))
    except orjson.JSONEncodeError as exc:  # nested deeper than the encoder goes (254)
        raise Problem(None, "Message is nested too deeply.") from exc
    if size > MAX_MESSAGE_BYTES:
        raise Problem(None, f"Message is {size} bytes; at most 32 KB ({MAX_MESSAGE_BYTES}).")


def _document(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise body_error("Request body is empty.")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise body_error(f"Malformed JSON: {exc}") from exc
    if type(document) is not dict:
        raise body_error("Body must be a JSON object (a Segment call or a batch).")
    return document


def _write_key(document: dict[str, Any]) -> str | None:
    key = document.get("writeKey")
    if key is not None and type(key) is not str:
        raise body_error("Must be a string.", field="writeKey")
    return key or None


def _batch(document: dict[str, Any]) -> list[Any]:
    messages = document.get("batch")
    if type(messages) is not list:
        raise body_error("Must be an array of messages.", field="batch")
    if len(messages) > MAX_MESSAGES:
        raise body_error(f"At most {MAX_MESSAGES} messages per batch.", field="batch")
    return messages


SEGMENT = SegmentFormat()
