"""PostHog's capture API (``/capture/``, ``/batch/``, ``/e/``, ``/i/v0/e/``): its bodies read
as PostHog's capture service reads them, its answers as its clients check them.

Bodies. JSON, possibly gzip'd without a Content-Encoding (posthog-js's gzip-js, which
1.449 announces nowhere, older releases by ``?compression=gzip-js``: found by gzip's magic
bytes, as PostHog's capture service does, whatever the query says), possibly base64
(posthog-js's legacy ``compression=base64``), possibly a form whose ``data`` field holds
one of those. lz64 (LZString) is not supported. Three shapes:
``{"api_key", "batch": [...], "sent_at"}`` (posthog-python, and posthog-js today), one event
``{"api_key", "event", "distinct_id", ...}``, or a bare list of events each carrying its
``token`` (older posthog-js). The key is ``api_key`` or ``token`` (or ``$token``, or
``properties.token``); a list's messages must agree on it.

Answers. 200 ``{"status": 1}``, PostHog's (posthog-python checks only the status code).
A refusal is PostHog's error body ``{"type", "code", "detail", "attr"}`` with our
``details`` added, on our status codes: posthog-python retries 408, 429 and 5xx and drops
the batch on any other 4xx, which is right for every refusal here.
"""

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web

from ingest_gateway.body import decode_body
from ingest_gateway.dropin.posthog_events import translate_message, utc_now
from ingest_gateway.dropin.wire import (
    Translated,
    WireRequest,
    end_user,
    may_hold_nul,
    with_details,
)
from ingest_gateway.errors import IngestError, ValidationFailed
from ingest_gateway.validation import body_error, parse_timestamp

# PostHog documents 20 MB per /batch request and no count; ours is our body limit and a
# count no real SDK batch reaches first (posthog-python sends 100 by default; a posthog-js
# event is 2-3 KiB, so 1 MiB holds ~400), which bounds the work one request can ask for.
MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 1000
_GZIP_MAGIC = b"\x1f\x8b\x08"
_BASE64 = re.compile(rb"[A-Za-z0-9+/=_\-\s]+")
_PATHS = ("/capture", "/batch", "/e", "/i/v0/e")
# Our detail fields as PostHog names them (the rest, ``properties.x``, are the same).
_FIELDS = {
    "distinctId": "distinct_id",
    "insertId": "uuid",
    "sessionId": "properties.$session_id",
}
# Our refusals as PostHog's error ``type`` and ``code``.
_KINDS: dict[int, tuple[str, str]] = {
    400: ("validation_error", "invalid_payload"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("authentication_error", "origin_not_allowed"),
    408: ("server_error", "timeout"),
    413: ("validation_error", "payload_too_large"),
    415: ("validation_error", "unsupported_encoding"),
    429: ("throttled_error", "rate_limited"),
    503: ("server_error", "service_unavailable"),
}


class PostHogFormat:
    name = "posthog"
    paths = tuple(p for path in _PATHS for p in (path, path + "/"))
    max_body_bytes = MAX_BODY_BYTES

    def translate(self, request: WireRequest) -> Translated:
        return translate(request, utc_now())

    def accepted(self, request: WireRequest, count: int) -> web.Response:
        return web.json_response({"status": 1})

    def refused(self, request: WireRequest, error: IngestError) -> web.Response:
        return web.json_response(refusal_body(error), status=error.status)


POSTHOG = PostHogFormat()


def translate(request: WireRequest, now: datetime) -> Translated:
    document = decode_document(request)
    if isinstance(document, dict) and "batch" in document:
        messages = document["batch"]
        if not isinstance(messages, list):
            raise body_error("Must be an array of events.", field="batch")
        api_key = _text(document.get("api_key")) or _text(document.get("token"))
        sent_at = _sent_at(document.get("sent_at"), request.query)
    elif isinstance(document, dict):
        messages = [document]
        api_key = message_key(document)
        sent_at = _sent_at(document.get("sent_at"), request.query)
    elif isinstance(document, list):
        messages = document
        api_key = list_key(messages)
        sent_at = _sent_at(None, request.query)
    else:
        raise body_error("Body must be an event, an array of events or a batch.")
    if len(messages) > MAX_EVENTS:  # before translating them all: validation says the same
        raise body_error(f"At most {MAX_EVENTS} events per request.")
    contexts = [end_user_of(message) for message in messages]  # before their ``$ip`` goes
    events: list[Any] = []
    problems: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        event, found = translate_message(message, now, sent_at)
        events.append(event)
        if found:
            problems += [{"index": index, "field": f, "message": m} for f, m in found]
    if problems:
        raise ValidationFailed(problems)
    return Translated(
        api_key=api_key,
        events=events,
        max_events=MAX_EVENTS,
        contexts=contexts if any(contexts) else [],  # none: the request's, for all
        may_hold_nul=may_hold_nul(request.body),
    )


def end_user_of(message: Any) -> dict[str, str]:
    """The end user a message names (``$raw_user_agent``, ``$ip``: a server relaying its
    users' events), which the workers' enrichment reads instead of the request's."""
    properties = message.get("properties") if isinstance(message, dict) else None
    if not isinstance(properties, dict) or not (
        "$ip" in properties or "$raw_user_agent" in properties
    ):
        return {}  # the common case, decided at once
    return end_user(properties.get("$raw_user_agent"), properties.get("$ip"))


def decode_document(request: WireRequest) -> Any:
    """The JSON document of a body in any of PostHog's encodings (the module's rules)."""
    payload, compression = request.body, request.query.get("compression", "")
    if _is_form(request.content_type, payload):
        payload, compression = _form_data(payload, compression)
    if compression == "lz64":
        raise body_error("compression=lz64 is not supported: send gzip-js, base64 or JSON.")
    if not payload.strip():
        raise body_error("Request body is empty.")
    payload = _unwrapped(payload)
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise body_error(f"Malformed JSON: {exc}") from exc


def _is_form(content_type: str, payload: bytes) -> bool:
    return content_type == "application/x-www-form-urlencoded" or payload.startswith(b"data=")


def _form_data(payload: bytes, compression: str) -> tuple[bytes, str]:
    """A form's ``data`` field (bytes as sent: surrogateescape keeps any byte) and its
    ``compression`` field, else the query's."""
    text = payload.decode("utf-8", "surrogateescape")
    form = parse_qs(text, keep_blank_values=True, errors="surrogateescape")
    if "data" not in form:
        raise body_error("A form body must carry the events in its data field.")
    data = form["data"][0]
    if not data.lstrip().startswith(("{", "[")):
        data = data.replace(" ", "+")  # base64's '+', which a form decodes as a space
    return data.encode("utf-8", "surrogateescape"), form.get("compression", [compression])[0]


def _unwrapped(payload: bytes) -> bytes:
    """``payload`` without its base64 and gzip wrappings (each optional, in that order)."""
    if payload.lstrip()[:1] not in (b"{", b"[") and not payload.startswith(_GZIP_MAGIC):
        if _BASE64.fullmatch(payload) is None:
            raise body_error("Body is neither JSON, gzip nor base64.")
        compact = b"".join(payload.split())
        compact += b"=" * (-len(compact) % 4)
        altchars = b"-_" if b"-" in compact or b"_" in compact else None
        try:
            payload = base64.b64decode(compact, altchars=altchars, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise body_error("Body is not valid base64.") from exc
    if payload.startswith(_GZIP_MAGIC):
        # Not Content-Encoding (the handler inflated that): gzip-js, bounded the same way.
        payload = decode_body(payload, "gzip", MAX_BODY_BYTES)
    return payload


def message_key(message: dict[str, Any]) -> str | None:
    """One message's key: ``token``, ``$token``, ``api_key``, then ``properties.token``."""
    for name in ("token", "$token", "api_key"):
        if key := _text(message.get(name)):
            return key
    properties = message.get("properties")
    return _text(properties.get("token")) if isinstance(properties, dict) else None


def list_key(messages: list[Any]) -> str | None:
    """The key of a list of messages: the one they carry; messages naming different keys
    are refused, as PostHog does (a 400 here: the body is wrong, not the key)."""
    keys = {message_key(m) for m in messages if isinstance(m, dict)} - {None}
    if len(keys) > 1:
        raise body_error("The events carry different api keys; send one project's per request.")
    return keys.pop() if keys else None


def _sent_at(body_value: Any, query: Any) -> datetime | None:
    """When the client sent the request, by its clock: the body's ``sent_at`` (ISO 8601) or
    posthog-js's ``?_=`` (milliseconds; a number of seconds, from old releases, ignored)."""
    if isinstance(body_value, str) and (moment := parse_timestamp(body_value)) is not None:
        return moment
    stamp = query.get("_", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 15):
        return None
    try:
        moment = datetime.fromtimestamp(int(stamp) / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # past year 9999
        return None
    return moment if moment.year > 2020 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def refusal_body(error: IngestError) -> dict[str, Any]:
    """PostHog's error body for one of our refusals, with our details (PostHog's field
    names); ``detail`` is what posthog-python logs, so it names the first problem."""
    kind, code = _KINDS.get(error.status, ("server_error", "error"))
    if error.reason == "over_limit":
        code = "quota_limited"
    body: dict[str, Any] = with_details(
        {"type": kind, "code": code, "detail": str(error.body.get("error", "")), "attr": None},
        error,
    )
    if "details" in body:
        body["details"] = [_renamed(detail) for detail in body["details"]]
        if body["details"]:
            first = body["details"][0]
            body["attr"] = first.get("field")
            body["detail"] += f": {_described(first)}"
    for name in ("limit", "used", "remaining"):
        if name in error.body:
            body[name] = error.body[name]
    return body


def _renamed(detail: dict[str, Any]) -> dict[str, Any]:
    field = detail.get("field")
    return {**detail, "field": _FIELDS.get(field, field)} if isinstance(field, str) else detail


def _described(detail: dict[str, Any]) -> str:
    where = [f"event {detail['index']}"] if detail.get("index") is not None else []
    if detail.get("field"):
        where.append(str(detail["field"]))
    return f"{', '.join(where)}: {detail['message']}" if where else str(detail["message"])
