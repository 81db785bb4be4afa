"""The event record the gateway appends to the ``events`` topic, its schema and JSON codec.

Records are JSON (inspectable with Kafka's console tools). Keys are
``{projectId}:{distinctId}``: one user's events stay in order on one partition while a big
project still spreads over every partition.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

MAX_EVENT_NAME = 100
MAX_PROPERTIES = 100
MAX_INSERT_ID = 64
# The Kafka header naming the request that appended a record (common/request_ids.py).
REQUEST_ID_HEADER = "ra-request-id"
# The session id that asks the stream workers to derive the event's session (one per 30
# idle minutes per distinct id, stream_workers/sessions.py): the gateway gives it to the
# drop-in events whose product sent no session id, and a native event may send it too.
DERIVE_SESSION = "$derive"


class RecordError(ValueError):
    """A record on the topic that is not a valid event record (goes to the dead-letter topic)."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    project_id: str
    event: str
    timestamp: datetime
    received_at: datetime
    distinct_id: str
    session_id: str
    properties: dict[str, Any]
    insert_id: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    # The gateway reserved monthly quota for it before answering 200 (False: it answered
    # while Redis was unreachable). The workers count these to tell the gateway how many of
    # its reservations are still in flight (contracts.usage).
    quota_reserved: bool = False


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and a ``Z``, the one time format on the topic.

    ``isoformat()`` without ``timespec`` (whose keyword parsing cost as much as the rest),
    completed by hand when it leaves the microseconds out (they are zero)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    text = moment.isoformat()  # ...+00:00
    return text[:-6] + "Z" if moment.microsecond else text[:-6] + ".000000Z"


def record_key(project_id: str, distinct_id: str) -> bytes:
    return f"{project_id}:{distinct_id}".encode()


def encode_record(record: EventRecord) -> bytes:
    return encode_record_fields(
        record.id,
        record.project_id,
        record.event,
        format_time(record.timestamp),
        format_time(record.received_at),
        record.distinct_id,
        record.session_id,
        record.properties,
        record.insert_id,
        record.context,
        record.quota_reserved,
    )


def encode_record_fields(
    id: str,
    project_id: str,
    event: str,
    timestamp: str,
    received_at: str,
    distinct_id: str,
    session_id: str,
    properties: dict[str, Any],
    insert_id: str | None,
    context: dict[str, str],
    quota_reserved: bool,
) -> bytes:
    """``encode_record``'s bytes from the fields, the times already ``format_time``'d: the
    gateway's hot path skips the frozen dataclass and formats a request's receive time once
    (together a third of its CPU per event)."""
    body: dict[str, Any] = {
        "id": id,
        "projectId": project_id,
        "event": event,
        "timestamp": timestamp,
        "receivedAt": received_at,
        "distinctId": distinct_id,
        "sessionId": session_id,
        "properties": properties,
        "insertId": insert_id,
        "context": context,
    }
    if quota_reserved:
        body["quotaReserved"] = True
    return orjson.dumps(body)


class EventRecordSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    projectId = fields.String(required=True, validate=validate.Length(min=1))
    event = fields.String(required=True, validate=validate.Length(1, MAX_EVENT_NAME))
    timestamp = fields.AwareDateTime(required=True, default_timezone=UTC)
    receivedAt = fields.AwareDateTime(required=True, default_timezone=UTC)
    distinctId = fields.String(required=True, validate=validate.Length(min=1))
    sessionId = fields.String(required=True, validate=validate.Length(min=1))
    properties = fields.Dict(
        keys=fields.String(), required=True, validate=validate.Length(max=MAX_PROPERTIES)
    )
    insertId = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MAX_INSERT_ID)
    )
    context = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    quotaReserved = fields.Boolean(load_default=False)

    @post_load
    def make_record(self, data: dict[str, Any], **_: Any) -> EventRecord:
        return EventRecord(
            id=str(data["id"]),
            project_id=data["projectId"],
            event=data["event"],
            timestamp=data["timestamp"].astimezone(UTC),
            received_at=data["receivedAt"].astimezone(UTC),
            distinct_id=data["distinctId"],
            session_id=data["sessionId"],
            properties=data["properties"],
            insert_id=data["insertId"],
            context=data["context"],
            quota_reserved=data["quotaReserved"],
        )


_RECORD_SCHEMA = EventRecordSchema()


def decode_record(raw: bytes) -> EventRecord:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise RecordError("not a JSON object")
    try:
        record: EventRecord = _RECORD_SCHEMA.load(payload)
    except ValidationError as exc:
        raise RecordError(f"invalid record: {exc.messages}") from exc
    return record
