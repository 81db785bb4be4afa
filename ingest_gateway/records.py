"""Validated events → the ``(key, value)`` records appended to the events topic."""

from datetime import datetime
from typing import Any

from contracts.events import encode_record_fields, format_time, record_key
from ingest_gateway.ids import uuid7_batch


def build_records(
    project_id: str,
    events: list[dict[str, Any]],
    received_at: datetime,
    context: dict[str, str],
    quota_reserved: bool = False,
    own_contexts: list[dict[str, str]] | None = None,
) -> list[tuple[bytes, bytes]]:
    """One record per event: a fresh UUIDv7, the request's receive time and context (with
    ``own_contexts``, each event's own on top: a drop-in message's end user; an empty value
    removes the request's), and whether
    the request's quota was reserved (``contracts.usage``)."""
    ids = uuid7_batch(len(events), int(received_at.timestamp() * 1000))
    contexts = (
        [{k: v for k, v in {**context, **own}.items() if v} for own in own_contexts]
        if own_contexts
        else [context] * len(events)
    )
    received = format_time(received_at)  # one receive time for the request's records
    return [
        (
            record_key(project_id, event["distinctId"]),
            encode_record_fields(
                event_id,
                project_id,
                event["event"],
                format_time(event["timestamp"]),
                received,
                event["distinctId"],
                event["sessionId"],
                event["properties"],
                event["insertId"],
                event_context,
                quota_reserved,
            ),
        )
        for event, event_id, event_context in zip(events, ids, contexts, strict=True)
    ]
