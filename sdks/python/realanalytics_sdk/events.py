"""Building one event in the ingest contract's shape, checked where the caller can see it.

A mistake such as an empty event name raises ``ValueError`` from ``track`` itself rather
than turning into a 400 later that would drop the whole batch it was sent in.
"""

import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from realanalytics_sdk.encoding import encode_event

MAX_EVENT_NAME = 100
MAX_PROPERTIES = 100
MAX_INSERT_ID = 64

Fields = tuple[str, str, str, str, dict[str, Any], str]

# (second, "YYYY-MM-DDTHH:MM:SS") of the last timestamp made: formatting a datetime is
# the costliest part of a default track(), and the prefix changes once a second.
_second_prefix: tuple[int, str] = (-1, "")


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``; a naive datetime is taken as UTC."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def now_timestamp() -> str:
    """The current time as ``format_timestamp`` would write it."""
    global _second_prefix
    now = time.time()
    second = int(now)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_prefix = (second, prefix)
    return f"{prefix}.{int((now - second) * 1000):03d}Z"


def event_fields(
    event: str,
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    *,
    session_id: str | None = None,
    timestamp: datetime | str | None = None,
    insert_id: str | None = None,
) -> Fields:
    """The checked fields ``(event, timestamp, distinctId, sessionId, properties,
    insertId)`` with the defaults filled in; ``ValueError`` for what the gateway refuses."""
    if not isinstance(event, str) or not 1 <= len(event) <= MAX_EVENT_NAME:
        raise ValueError(f"event must be a string of 1 to {MAX_EVENT_NAME} characters")
    if not isinstance(distinct_id, str) or not distinct_id:
        raise ValueError("distinct_id must be a non-empty string")
    if properties is None:
        props: dict[str, Any] = {}
    elif type(properties) is dict:
        # Encoded at once by track(), so the caller may change its dict afterwards:
        # no copy needed.
        props = properties
    else:
        props = dict(properties)
    if len(props) > MAX_PROPERTIES:
        raise ValueError(f"properties may hold at most {MAX_PROPERTIES} keys")
    if session_id is None:
        # Server-side events rarely have a browser session; one per user keeps the
        # contract's required field meaningful for the "sessions" metric.
        session_id = distinct_id
    elif not isinstance(session_id, str) or not session_id:
        raise ValueError("session_id must be a non-empty string")
    if insert_id is None:
        # 128 random bits as 32 hex characters. Uniqueness is all an insertId needs, not
        # secrecy: the module's generator (reseeded in a forked child) is a few times
        # cheaper than uuid4/os.urandom, whose syscall also hands the GIL to the sender
        # thread on every track().
        insert_id = f"{random.getrandbits(128):032x}"
    elif not isinstance(insert_id, str) or not 1 <= len(insert_id) <= MAX_INSERT_ID:
        raise ValueError(f"insert_id must be a string of 1 to {MAX_INSERT_ID} characters")
    if timestamp is None:
        stamp = now_timestamp()
    elif isinstance(timestamp, datetime):
        stamp = format_timestamp(timestamp)
    elif isinstance(timestamp, str) and timestamp:
        stamp = timestamp
    else:
        raise ValueError("timestamp must be a datetime or an ISO 8601 string")
    return event, stamp, distinct_id, session_id, props, insert_id


def encode(
    event: str,
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    *,
    session_id: str | None = None,
    timestamp: datetime | str | None = None,
    insert_id: str | None = None,
) -> bytes:
    """One checked event as the JSON fragment a batch is made of."""
    return encode_event(
        *event_fields(
            event,
            distinct_id,
            properties,
            session_id=session_id,
            timestamp=timestamp,
            insert_id=insert_id,
        )
    )
