"""JSON for the wire: each event is encoded once, when it is tracked, into a fragment.

A batch's body is then ``[`` + the fragments joined by ``,`` + ``]``: nothing is encoded
per batch, and a retry or a 413 split resends the same bytes. ``orjson`` is used when it
is installed (about 4x cheaper per event); otherwise the standard library's C encoder,
called directly. Both give the same JSON for the same input: values JSON cannot hold are
sent as text (``datetime``/``date``/``time`` in ISO 8601, anything else as ``str()``),
non-string keys as text, NaN and infinities as ``null`` (plain ``json`` would write
``NaN``, which is not JSON, and the gateway would refuse the whole batch).
"""

import json
import json.encoder
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

try:
    import orjson

    HAVE_ORJSON = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_ORJSON = False

_escape: Callable[[str], str] = json.encoder.encode_basestring_ascii


def as_text(value: object) -> str:
    """What a value JSON cannot hold is sent as."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _without_non_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_non_finite(item) for item in value]
    return value


def _stdlib_encoder() -> Callable[[Any], str]:
    # The C encoder without JSONEncoder.encode's Python wrapper. markers=None skips the
    # circular-reference bookkeeping; a circular value then fails with RecursionError.
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - an interpreter without _json
        return json.JSONEncoder(
            separators=(",", ":"), default=as_text, allow_nan=False, check_circular=False
        ).encode
    encoder = c_make_encoder(None, as_text, _escape, None, ":", ",", False, False, False)

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_encode_value = _stdlib_encoder()


def dumps(value: Any) -> str:
    """``value`` as compact ASCII JSON with the standard library (see the module's rules)."""
    try:
        return _encode_value(value)
    except ValueError:  # NaN or an infinity somewhere: rare, so the slow path
        return _encode_value(_without_non_finite(value))
    except RecursionError:
        raise ValueError("properties must not contain circular references") from None


def encode_event_stdlib(
    event: str,
    timestamp: str,
    distinct_id: str,
    session_id: str,
    properties: dict[str, Any],
    insert_id: str,
) -> bytes:
    """One event in the contract's shape as a JSON fragment, standard library only."""
    return (
        f'{{"event":{_escape(event)},"timestamp":{_escape(timestamp)},'
        f'"distinctId":{_escape(distinct_id)},"sessionId":{_escape(session_id)},'
        f'"properties":{dumps(properties)},"insertId":{_escape(insert_id)}}}'
    ).encode()


def encode_event_orjson(
    event: str,
    timestamp: str,
    distinct_id: str,
    session_id: str,
    properties: dict[str, Any],
    insert_id: str,
) -> bytes:
    """As ``encode_event_stdlib``, with orjson."""
    record = {
        "event": event,
        "timestamp": timestamp,
        "distinctId": distinct_id,
        "sessionId": session_id,
        "properties": properties,
        "insertId": insert_id,
    }
    try:
        return orjson.dumps(record, default=as_text, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library takes it
        return encode_event_stdlib(event, timestamp, distinct_id, session_id, properties, insert_id)


encode_event = encode_event_orjson if HAVE_ORJSON else encode_event_stdlib


def batch_body(fragments: Sequence[bytes]) -> bytes:
    """The request body for a batch: a JSON array of the events' fragments."""
    return b"[" + b",".join(fragments) + b"]"


def decode_fragments(fragments: Sequence[bytes]) -> list[dict[str, Any]]:
    """The events back as dicts (for ``on_error``: only on the failure path)."""
    return [json.loads(fragment) for fragment in fragments]
