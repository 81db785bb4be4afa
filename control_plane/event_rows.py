"""The raw store's rows as the JSON lines of access requests and exports (pure).

One line per event, the fields of the ``events`` table in the contract's camelCase (the
names the gateway's records use, ``contracts/events.py``), times in UTC ISO 8601 with
microseconds and a ``Z`` (the topic's format). The database hands every column over as
text, ready for the line: the times formatted by ``to_char`` (in C, about a tenth of what
``format_time`` costs a row in Python), ``properties`` and ``context`` as its own JSON
text, placed in the line unparsed (parsing and re-encoding them would cost more than the
rest of the line, and the text is already valid JSON).
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, LiteralString

import orjson

from control_plane.errors import ValidationFailed

# The row shape every query of the raw store for a person or an export selects.
_UTC_TEXT = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
COLUMNS: LiteralString = (
    "id::text, event, "
    + _UTC_TEXT.format("ts")
    + ", "
    + _UTC_TEXT.format("received_at")
    + ", distinct_id, session_id, properties::text, insert_id, context::text"
)
FIELDS = (
    "id",
    "event",
    "timestamp",
    "receivedAt",
    "distinctId",
    "sessionId",
    "properties",
    "insertId",
    "context",
)
FORMATS = ("jsonl",)
NDJSON = "application/x-ndjson"
# How many events the stream holds: counted in the stream's own snapshot, so the lines
# that follow are exactly this many (the CLI's progress bar and completeness check).
COUNT_HEADER = "X-Event-Count"

Row = tuple[str, str, str, str, str, str, str, str | None, str]


def json_line(row: Row) -> bytes:
    """One event as a JSON line (with its newline)."""
    event_id, event, ts, received_at, distinct_id, session_id, properties, insert_id, context = row
    return orjson.dumps(
        {
            "id": event_id,
            "event": event,
            "timestamp": ts,
            "receivedAt": received_at,
            "distinctId": distinct_id,
            "sessionId": session_id,
            "properties": orjson.Fragment(properties),
            "insertId": insert_id,
            "context": orjson.Fragment(context),
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def check_format(value: str | None) -> str:
    """The requested format (``jsonl`` when none is named); a 400 for any other."""
    chosen = value or FORMATS[0]
    if chosen not in FORMATS:
        raise ValidationFailed(
            [{"field": "format", "message": f"Unknown format; one of: {', '.join(FORMATS)}."}]
        )
    return chosen


def parse_range(query: Mapping[str, str]) -> tuple[datetime, datetime]:
    """``from`` (inclusive) and ``to`` (exclusive) of an export, as aware UTC times; a
    time without a zone is UTC (as on ingest), a bare date its midnight. Both are
    required and ``to`` must be later than ``from``: 400 otherwise, every problem listed."""
    details: list[dict[str, Any]] = []
    bounds: dict[str, datetime] = {}
    for name in ("from", "to"):
        text = query.get(name)
        if not text:
            details.append({"field": name, "message": "Required (an ISO 8601 time or date)."})
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            details.append({"field": name, "message": "Not an ISO 8601 time or date."})
            continue
        bounds[name] = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if not details and bounds["to"] <= bounds["from"]:
        details.append({"field": "to", "message": "Must be later than from."})
    if details:
        raise ValidationFailed(details)
    return bounds["from"], bounds["to"]
