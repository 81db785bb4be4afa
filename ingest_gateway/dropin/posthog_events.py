"""One PostHog capture message → one of our events: pure functions (docs/dropin.md (PostHog)).

PostHog's own ingestion decides the fields this way, and so do we: the distinct id is
``distinct_id`` (or ``$distinct_id``, or ``properties.distinct_id``), the key is never kept
in the properties, ``$identify`` / ``$create_alias`` / ``$merge_dangerously`` name the two
ids that become one person, and the timestamp is corrected for the client's clock as
PostHog's plugin-server does (``event_time``).

A message whose fields have the wrong JSON type still becomes an event (with the field
left as it was, or left out) so that validation names the problem at the message's index;
what only the wire format can check (``uuid``, ``offset``, ``properties`` as an object)
comes back as problems for ``posthog`` to refuse.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from contracts.events import MAX_INSERT_ID
from ingest_gateway.dropin.wire import (
    ANON_ID,
    DISTINCT_ID,
    EVENT,
    IDENTIFY,
    INSERT_ID,
    PROPERTIES,
    SESSION_ID,
    TIMESTAMP,
)
from ingest_gateway.validation import parse_timestamp

# PostHog moves a timestamp more than this far ahead of the receive time back to it.
FUTURE_CUTOFF = timedelta(hours=23)
# What a message carries that is PostHog's wire, not the event: mapped onto our fields, or
# the key (never stored), or the end user's address (docs/privacy.md: an address is never
# stored), or the DOM path of an autocaptured element (often past a property's 1 KiB).
_NOT_KEPT = frozenset(
    {
        "token",
        "distinct_id",
        "$session_id",
        "$current_url",
        "$ip",
        "$elements",
        "$elements_chain",
    }
)
# Events that make two ids one person: the property naming the other id.
_MERGES = {
    "$identify": "$anon_distinct_id",
    "$create_alias": "alias",
    "$merge_dangerously": "alias",
}
DIRECT = "$direct"  # posthog-js's referrer when there is none; ours is ""

Problem = tuple[str, str]  # (field, message), PostHog's field names


def translate_message(
    message: Any, now: datetime, sent_at: datetime | None
) -> tuple[Any, list[Problem]]:
    """Our event for one message (a non-object is passed on for validation to refuse) and
    the problems only the wire format can see."""
    if not isinstance(message, dict):
        return message, []
    problems: list[Problem] = []
    raw_properties = message.get("properties")
    if raw_properties is None:
        raw_properties = {}
    elif not isinstance(raw_properties, dict):
        problems.append(("properties", "Must be an object."))
        raw_properties = {}
    event: dict[str, Any] = {}
    name = message.get("event")
    if name is not None:
        event[EVENT] = name
    distinct = distinct_id(message, raw_properties)
    if distinct is not None:
        event[DISTINCT_ID] = distinct
    session = raw_properties.get("$session_id")
    if isinstance(session, str) and session:
        event[SESSION_ID] = session
    event[TIMESTAMP], problem = event_time(message, raw_properties, now, sent_at)
    if problem is not None:
        problems.append(problem)
    insert_id, problem = insert_id_of(message.get("uuid"))
    if problem is not None:
        problems.append(problem)
    event[INSERT_ID] = insert_id  # None: not deduplicated
    merged = _MERGES.get(name) if isinstance(name, str) else None
    if merged is not None:
        event[EVENT] = IDENTIFY
    event[PROPERTIES] = properties_of(message, raw_properties, merged)
    return event, problems


def distinct_id(message: dict[str, Any], properties: dict[str, Any]) -> Any:
    """PostHog's order: ``distinct_id``, ``$distinct_id``, then ``properties.distinct_id``;
    a number is its decimal text (PostHog stringifies it). Anything else is passed on."""
    for value in (
        message.get("distinct_id"),
        message.get("$distinct_id"),
        properties.get("distinct_id"),
    ):
        if value is None or value == "":
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value
    return None


def properties_of(
    message: dict[str, Any], properties: dict[str, Any], merged: str | None
) -> dict[str, Any]:
    """The message's properties on our names: ``$current_url`` → ``$url`` (and
    ``$pathname`` from it when missing), ``$referrer`` ``$direct`` → "", the person
    updates (top-level ``$set`` / ``$set_once``) kept as properties, the merged id as
    ``$anonDistinctId``; the key, the ids mapped elsewhere and null values left out (PostHog's
    queries read a null property as a missing one; posthog-js sends ~30 of them). Without
    a null, the message's own properties are changed in place (a message is read before,
    and never after)."""
    url = properties.get("$current_url")
    if None in properties.values():
        out = {
            key: value
            for key, value in properties.items()
            if key not in _NOT_KEPT and value is not None
        }
    else:
        out = properties
        for key in _NOT_KEPT:
            if key in out:
                del out[key]
    if isinstance(url, str) and url:
        out.setdefault("$url", url)
        if "$pathname" not in out:
            out["$pathname"] = _path(url)
    if out.get("$referrer") == DIRECT:
        out["$referrer"] = ""
    if message.get("event") == "$pageview" and "$title" not in out and "title" in out:
        out["$title"] = out.pop("title")  # posthog-js's page title
    for update in ("$set", "$set_once"):
        value = message.get(update)
        if value is not None and update not in out:
            out[update] = value
    if merged is not None:
        other = out.pop(merged, None)
        if other is not None:
            out[ANON_ID] = str(other) if isinstance(other, int | float) else other
    return out


def event_time(
    message: dict[str, Any], properties: dict[str, Any], now: datetime, sent_at: datetime | None
) -> tuple[Any, Problem | None]:
    """PostHog's timestamp: ``timestamp`` moved by the client's clock skew (the receive
    time minus ``sent_at``) unless ``properties.$ignore_sent_at``; ``offset`` (ms before
    the receive time) wins over both; neither → the receive time; more than 23 hours ahead
    of the receive time → the receive time. The time is handed to validation as a UTC
    ``datetime`` (not formatted and parsed again). A timestamp that is not a date is passed
    on as it was, for validation to refuse (PostHog would take the receive time)."""
    moment = now
    raw = message.get("timestamp")
    if raw is not None:
        parsed = parse_timestamp(raw) if isinstance(raw, str) else None
        if parsed is None:
            return raw, None
        moment = parsed
        if sent_at is not None and not properties.get("$ignore_sent_at"):
            moment = _shifted(now, parsed - sent_at) or parsed
    offset = message.get("offset")
    if offset is not None:
        if not isinstance(offset, int) or isinstance(offset, bool):
            return moment, ("offset", "Must be an integer (milliseconds).")
        moment = _before(now, offset)
    if moment - now > FUTURE_CUTOFF:
        moment = now
    return moment, None


def _shifted(now: datetime, delta: timedelta) -> datetime | None:
    try:
        return now + delta
    except OverflowError:
        return None


def _before(now: datetime, offset_ms: int) -> datetime:
    """``offset_ms`` before ``now``; an offset past the calendar's range is none."""
    try:
        return now - timedelta(milliseconds=offset_ms)
    except OverflowError:
        return now


def insert_id_of(uuid: Any) -> tuple[str | None, Problem | None]:
    """``uuid`` as our insertId: as sent when it fits, else its SHA-256 (64 hex digits, the
    same on every retry); none or "" → none (PostHog makes one up, so a retry cannot be
    told from a new event there either)."""
    if uuid is None or uuid == "":
        return None, None
    if not isinstance(uuid, str):
        return None, ("uuid", "Must be a string (a UUID).")
    if len(uuid) <= MAX_INSERT_ID:
        return uuid, None
    return hashlib.sha256(uuid.encode("utf-8", "surrogatepass")).hexdigest(), None


def _path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"


def utc_now() -> datetime:
    return datetime.now(UTC)
