"""Building one event in the ingest contract's shape, checked where the caller can see it.

A mistake such as an empty event name raises ``ValueError`` from ``track`` itself rather
than turning into a 400 later that would drop the whole batch it was sent in.
"""

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MAX_EVENT_NAME = 100
MAX_PROPERTIES = 100
MAX_INSERT_ID = 64


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``; a naive datetime is taken as UTC."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def build_event(
    event: str,
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    *,
    session_id: str | None = None,
    timestamp: datetime | str | None = None,
    insert_id: str | None = None,
) -> dict[str, Any]:
    if not isinstance(event, str) or not 1 <= len(event) <= MAX_EVENT_NAME:
        raise ValueError(f"event must be a string of 1 to {MAX_EVENT_NAME} characters")
    if not isinstance(distinct_id, str) or not distinct_id:
        raise ValueError("distinct_id must be a non-empty string")
    props = dict(properties) if properties is not None else {}
    if len(props) > MAX_PROPERTIES:
        raise ValueError(f"properties may hold at most {MAX_PROPERTIES} keys")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise ValueError("session_id must be a non-empty string")
    if insert_id is None:
        # 128 random bits as 32 hex characters. Uniqueness is all an insertId needs, not
        # secrecy: the module's generator (reseeded in a forked child) is a few times
        # cheaper than uuid4/os.urandom, whose syscall also hands the GIL to the sender
        # threads on every track() (about 10% of track's CPU on the benchmark).
        insert_id = f"{random.getrandbits(128):032x}"
    elif not isinstance(insert_id, str) or not 1 <= len(insert_id) <= MAX_INSERT_ID:
        raise ValueError(f"insert_id must be a string of 1 to {MAX_INSERT_ID} characters")
    if timestamp is None:
        stamp = format_timestamp(datetime.now(UTC))
    elif isinstance(timestamp, datetime):
        stamp = format_timestamp(timestamp)
    elif isinstance(timestamp, str) and timestamp:
        stamp = timestamp
    else:
        raise ValueError("timestamp must be a datetime or an ISO 8601 string")
    return {
        "event": event,
        "timestamp": stamp,
        "distinctId": distinct_id,
        # Server-side events rarely have a browser session; one per user keeps the
        # contract's required field meaningful for the "sessions" metric.
        "sessionId": session_id if session_id is not None else distinct_id,
        "properties": props,
        "insertId": insert_id,
    }
