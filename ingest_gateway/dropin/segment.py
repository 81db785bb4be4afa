"""Segment's HTTP Tracking API as a drop-in format: its calls become our events, one each.

The routes are Segment's (``/v1/track``, ``/page``, ``/screen``, ``/identify``, ``/alias``,
``/group``, ``/batch``) and analytics.js's one-letter ones (``/v1/t``, ``/p``, ``/s``, ``/i``,
``/a``, ``/g``, ``/b``). The write key is the HTTP Basic user (the server libraries) or the
body's ``writeKey`` (analytics.js, which sends ``text/plain`` to avoid a CORS preflight: the
content type is not read). Each message is mapped by ``segment_messages.message_event``; a
message's ``context.userAgent`` and ``context.ip`` (a server library relaying its user's)
become its record's context, which the workers enrich from, instead of the request's own.
What cannot be mapped is refused naming Segment's own field, and what our event contract
then refuses (``ingest_gateway.validation``) is renamed back by ``segment_field``, so every
detail speaks of the request as it was sent.

Limits are Segment's documented ones: 32 KB per message (its compact JSON; a body within
32 KB is not measured again, since no message in it can be larger), 500 KB per request
(inflated). Segment documents no message count; 2,500 is above what any Segment library
sends within 500 KB (analytics-python's smallest message is ~280 bytes, and it stops a batch
at 475,000 bytes: ~1,700 messages) and bounds the per-request work of hand-made batches of
tiny messages.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from ingest_gateway.dropin.segment_messages import (
    TRAIT_PREFIX,
    Envelope,
    Problem,
    message_event,
    object_field,
    time_field,
)
from ingest_gateway.dropin.wire import (
    DISTINCT_ID,
    INSERT_ID,
    PROPERTIES,
    SESSION_ID,
    Translated,
    WireRequest,
    basic_auth_user,
    may_hold_nul,
    with_details,
)
from ingest_gateway.errors import IngestError, ValidationFailed
from ingest_gateway.validation import body_error

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
                time_field(document, "sentAt") if route_kind is None else None,
                object_field(document, "context") if route_kind is None else None,
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
            may_hold_nul=may_hold_nul(request.body),
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
