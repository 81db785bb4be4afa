"""Decoding records off the topic fast: the gateway's own shape checked in plain Python.

``contracts.events.decode_record`` (marshmallow) costs ~0.15 ms a record, a ceiling of
~7k records/s for the whole worker. Records as the gateway writes them (``format_time``
stamps, string fields, canonical UUIDs) are checked here field by field with the same rules
and built directly; anything else falls back to ``decode_record``, which decides it with the
schema and gives the dead-letter reason, so both paths accept and refuse the same records.
"""

import functools
import re
import uuid
from datetime import datetime
from typing import Any, NamedTuple, TypeGuard, cast

import orjson

from contracts.events import (
    MAX_EVENT_NAME,
    MAX_INSERT_ID,
    MAX_PROPERTIES,
    EventRecord,
    RecordError,
    decode_record,
)
from stream_workers.caps import storable_id

# Exactly what contracts.events.format_time writes: UTC, microseconds, a Z.
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _stamp(value: Any) -> datetime | None:
    if type(value) is not str or _STAMP.match(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)  # 3.11: the Z is UTC
    except ValueError:
        return None


def _text(value: Any) -> TypeGuard[str]:
    return type(value) is str and len(value) > 0


class Decoded(NamedTuple):
    """A record off the topic as the sink uses it: ``EventRecord``'s fields and its two
    times as ISO 8601 text for the staging COPY (as on the topic when in the gateway's
    shape).

    The fields are stated again here, in ``EventRecord``'s order, on purpose: a tuple
    costs about 1.5 µs to build against the frozen dataclass's 5.5 µs, once per record
    (about a tenth of the worker's CPU per event). ``of`` and ``record`` convert both
    ways, and tests/unit/stream_workers/test_decoding.py holds them equal."""

    id: str
    project_id: str
    event: str
    timestamp: datetime
    received_at: datetime
    distinct_id: str
    session_id: str
    properties: dict[str, Any]
    insert_id: str | None
    context: dict[str, str]
    timestamp_text: str
    received_text: str
    quota_reserved: bool = False

    @classmethod
    def of(cls, r: EventRecord) -> "Decoded":
        return cls(
            r.id,
            r.project_id,
            r.event,
            r.timestamp,
            r.received_at,
            r.distinct_id,
            r.session_id,
            r.properties,
            r.insert_id,
            r.context,
            r.timestamp.isoformat(),
            r.received_at.isoformat(),
            r.quota_reserved,
        )

    def record(self) -> EventRecord:
        return EventRecord(
            id=self.id,
            project_id=self.project_id,
            event=self.event,
            timestamp=self.timestamp,
            received_at=self.received_at,
            distinct_id=self.distinct_id,
            session_id=self.session_id,
            properties=self.properties,
            insert_id=self.insert_id,
            context=self.context,
            quota_reserved=self.quota_reserved,
        )


def fast_record(payload: Any) -> EventRecord | None:
    """The record if ``payload`` is in the gateway's own shape, else None (no judgement)."""
    decoded = fast_decoded(payload)
    return None if decoded is None else decoded.record()


def fast_decoded(payload: Any) -> Decoded | None:
    """``fast_record``, as a ``Decoded`` whose times are the payload's own text."""
    if type(payload) is not dict:
        return None
    get = payload.get
    record_id, project, event = get("id"), get("projectId"), get("event")
    distinct, session = get("distinctId"), get("sessionId")
    properties, insert_id = get("properties"), get("insertId")
    context = get("context", {})
    reserved = get("quotaReserved", False)
    timestamp_text, received_text = get("timestamp"), get("receivedAt")
    timestamp, received = _stamp(timestamp_text), _stamp(received_text)
    if (
        timestamp is None
        or received is None
        or type(record_id) is not str
        or _UUID.match(record_id) is None
        or not _text(project)
        or not _text(event)
        or len(event) > MAX_EVENT_NAME
        or not _text(distinct)
        or not _text(session)
        or type(properties) is not dict
        or len(properties) > MAX_PROPERTIES
        or not (insert_id is None or (type(insert_id) is str and len(insert_id) <= MAX_INSERT_ID))
        or type(context) is not dict
        or not all(type(v) is str for v in context.values())
        or type(reserved) is not bool
    ):
        return None
    return Decoded(
        record_id,
        project,
        event,
        timestamp,
        received,
        distinct,
        session,
        properties,
        insert_id,
        context,
        cast(str, timestamp_text),  # _stamp took them: str in format_time's format
        cast(str, received_text),
        reserved,
    )


def without_nul(value: Any) -> Any:
    """``value`` with every NUL character (which PostgreSQL text and jsonb cannot hold) in
    its strings, keys included, replaced by U+FFFD — as PostHog stores them."""
    if type(value) is str:
        return value.replace("\x00", "\ufffd")
    if type(value) is dict:
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if type(value) is list:
        return [without_nul(v) for v in value]
    return value


def decode(raw: bytes) -> EventRecord:
    """As ``contracts.events.decode_record``, plus a projectId that must be a UUID (the
    tables key on it) and NULs replaced; raises RecordError with the reason."""
    return decode_for_sink(raw).record()


def decode_for_sink(raw: bytes) -> Decoded:
    """``decode``, as the sink uses it (``Decoded``), its distinct id cut to a size the
    per-user index holds (``stream_workers.caps``)."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = None
    if b"\\u0000" in raw and payload is not None:  # JSON writes a NUL only as \u0000
        payload = without_nul(payload)
        raw = orjson.dumps(payload)
    decoded = fast_decoded(payload)
    if decoded is None:
        decoded = Decoded.of(decode_record(raw))
    if not is_uuid(decoded.project_id):
        raise RecordError("projectId is not a UUID")
    distinct_id = storable_id(decoded.distinct_id)
    if distinct_id is not decoded.distinct_id:
        decoded = decoded._replace(distinct_id=distinct_id)
    return decoded


@functools.lru_cache(maxsize=4096)
def is_uuid(text: str) -> bool:
    """Cached: a batch repeats a few project ids thousands of times."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
