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
    """UTC ISO 8601 with microseconds and a ``Z``, the one time format on the topic."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def record_key(project_id: str, distinct_id: str) -> bytes:
    return f"{project_id}:{distinct_id}".encode()


def encode_record(record: EventRecord) -> bytes:
    body: dict[str, Any] = {
        "id": record.id,
        "projectId": record.project_id,
        "event": record.event,
        "timestamp": format_time(record.timestamp),
        "receivedAt": format_time(record.received_at),
        "distinctId": record.distinct_id,
        "sessionId": record.session_id,
        "properties": record.properties,
        "insertId": record.insert_id,
        "context": record.context,
    }
    if record.quota_reserved:
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
