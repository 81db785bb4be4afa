"""Mixpanel's request bodies → its messages: JSON, NDJSON, or a form's ``data`` field holding
JSON either plain or base64-encoded.

The shapes the clients send: mixpanel-python posts ``data=<json>&verbose=1&ip=0`` as a form;
mixpanel-js posts ``data=`` with JSON or (older releases, ``api_payload_format: 'base64'``)
base64 of it; server integrations post a JSON array or NDJSON to ``/import``. The query
parameters a client may put in the form instead of the URL (``verbose``, ``strict``) are
read by ``flag``. Pure functions; every bad shape is a ``ValidationFailed`` naming it.
"""

import base64
import binascii
import re
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from ingest_gateway.dropin.wire import WireRequest
from ingest_gateway.validation import body_error

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NDJSON = ("application/x-ndjson", "application/ndjson", "application/jsonl")
MAX_FORM_FIELDS = 100
_MALFORMED_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def read_messages(request: WireRequest) -> list[Any]:
    """The request's messages, in order (one object is a batch of one)."""
    body = request.body
    if request.content_type.lower() in NDJSON:
        return _ndjson(body)
    if _is_form(request):
        document = _json(decode_data(_form_data(body)))
    elif not body.strip() and "data" in request.query:  # the old GET style, as a POST
        document = _json(decode_data(request.query["data"].encode("utf-8", "surrogatepass")))
    else:
        document = _json(body)
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return document
    raise body_error("Body must be an event object or an array of events.")


def flag(request: WireRequest, name: str) -> bool:
    """Whether ``name=1`` is among the query parameters or, in a form body, its fields (a
    form's other fields are percent-encoded, so a field cannot be spoofed from ``data``)."""
    if request.query.get(name) == "1":
        return True
    if not _is_form(request):
        return False
    return re.search(rb"(?:^|&)" + name.encode() + rb"=1(?:&|$)", request.body) is not None


def _is_form(request: WireRequest) -> bool:
    """A form by its type, or by its first byte when its type is neither form nor JSON
    (a JSON body starts with ``{`` or ``[``)."""
    content_type = request.content_type.lower()
    if content_type == FORM:
        return True
    if content_type == JSON or content_type in NDJSON:
        return False
    start = request.body.lstrip()[:1]
    return bool(start) and start not in (b"{", b"[")


def decode_data(value: bytes) -> bytes:
    """A ``data`` field's JSON: as sent, or decoded from base64 (standard or URL-safe, padded
    or not; a ``+`` a client left unencoded arrives as a space and is put back)."""
    text = value.strip()
    if text[:1] in (b"{", b"["):
        return text
    text = text.replace(b" ", b"+")
    padded = text + b"=" * (-len(text) % 4)
    try:
        if b"-" in text or b"_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise body_error("Must be JSON or base64-encoded JSON.", field="data") from exc


def _form_data(body: bytes) -> bytes:
    """The ``data`` field of a form, percent-decoded (the other fields are ``flag``'s)."""
    fields = body.split(b"&")
    if len(fields) > MAX_FORM_FIELDS:
        raise body_error(f"Form data has more than {MAX_FORM_FIELDS} fields.")
    values = [
        value
        for name, _, value in (part.partition(b"=") for part in fields)
        if unquote_form(name) == b"data"
    ]
    if not values:
        raise body_error("Send the events as JSON, or as form data with a data field.")
    if len(values) > 1:
        raise body_error("Send one data field per request.", field="data")
    return unquote_form(values[0])


def unquote_form(value: bytes) -> bytes:
    """``application/x-www-form-urlencoded`` decoding of one name or value: what
    ``urllib.parse.unquote_to_bytes`` gives after ``+`` → space, in C. Percent-encoding is
    quoted-printable with ``%`` for ``=``, so ``binascii.a2b_qp`` decodes it once a literal
    ``=`` is escaped; ``unquote_to_bytes`` (a Python loop per escape, ~15x slower on JSON,
    where every quote and brace is escaped) only takes a value with a malformed escape,
    which it keeps as sent."""
    value = value.replace(b"+", b" ")
    if b"%" not in value:
        return value
    if _MALFORMED_ESCAPE.search(value):
        return unquote_to_bytes(value)
    return binascii.a2b_qp(value.replace(b"=", b"=3D").replace(b"%", b"="))


def _json(raw: bytes) -> Any:
    if not raw.strip():
        raise body_error("Request body is empty.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise body_error(f"Malformed JSON: {exc}") from exc


def _ndjson(body: bytes) -> list[Any]:
    messages: list[Any] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            messages.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise body_error(f"Line {number}: malformed JSON: {exc}") from exc
    if not messages:
        raise body_error("Request body is empty.")
    return messages
