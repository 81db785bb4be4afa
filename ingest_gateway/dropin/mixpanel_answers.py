"""Mixpanel's answers to a refused request: its error words, ``failed_records`` on
``/import``, and our details under Mixpanel's field names (``properties.time``, not
``timestamp``), so a user reads every problem in the terms of what they sent."""

from typing import Any

from ingest_gateway.dropin.mixpanel_body import read_messages
from ingest_gateway.dropin.wire import WireRequest
from ingest_gateway.errors import IngestError

# Our detail fields → Mixpanel's, for failed_records and our details alike.
FIELDS = {
    "event": "event",
    "timestamp": "properties.time",
    "distinctId": "properties.distinct_id",
    "insertId": "properties.$insert_id",
    "sessionId": "properties.$session_id",
}


def mixpanel_detail(detail: dict[str, Any]) -> dict[str, Any]:
    name = detail.get("field")
    if isinstance(name, str) and name in FIELDS:
        return {**detail, "field": FIELDS[name]}
    return detail


def summary(error: IngestError, details: list[dict[str, Any]]) -> str:
    """The error's words and its first detail: the one line mixpanel-python shows."""
    text = str(error.body.get("error", "error"))
    if not details:
        return text
    first = details[0]
    where = ", ".join(
        part
        for part in (
            f"event {first['index']}" if first.get("index") is not None else "",
            str(first["field"]) if first.get("field") else "",
        )
        if part
    )
    more = len(details) - 1 + int(error.body.get("omittedDetails", 0))
    text += f": {where + ': ' if where else ''}{first.get('message')}"
    return text + (f" (and {more} more)" if more else "")


def failed_records(request: WireRequest, details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mixpanel's ``failed_records``: the details of single events, each with the
    ``$insert_id`` the event was sent with (as Mixpanel names it there, ``insert_id``)."""
    indexed = [d for d in details if isinstance(d.get("index"), int)]
    if not indexed:
        return []
    ids = sent_insert_ids(request)
    return [
        {
            "index": d["index"],
            "insert_id": ids[d["index"]] if d["index"] < len(ids) else None,
            "field": d.get("field"),
            "message": d.get("message"),
        }
        for d in indexed
    ]


def sent_insert_ids(request: WireRequest) -> list[Any]:
    try:
        messages = read_messages(request)
    except IngestError:
        return []
    ids: list[Any] = []
    for message in messages:
        properties = message.get("properties") if isinstance(message, dict) else None
        value = properties.get("$insert_id") if isinstance(properties, dict) else None
        ids.append(value if isinstance(value, str | int) else None)
    return ids
