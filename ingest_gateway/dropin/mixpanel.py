"""Mixpanel's ingestion API as a drop-in format: ``POST /track`` and ``/import``.

One Mixpanel message becomes one of our events, in order (docs/dropin.md (Mixpanel) has the
table): ``event`` as is (``$mp_web_page_view`` → ``$pageview``); ``properties.distinct_id``
→ ``distinctId``; ``properties.time`` (seconds or milliseconds since the epoch, int or float)
→ ``timestamp``, the receive time without one; ``properties.$insert_id`` with the event,
user and time (Mixpanel's deduplication key) → ``insertId``; the key is
``properties.token``, or on ``/import`` the HTTP Basic user. Mixpanel's identity calls
(``$identify``, ``$create_alias``, ``$merge``) and Simplified ID Merge's ``$user_id`` +
``$device_id`` become our ``$anonDistinctId`` merge. The answers are Mixpanel's: ``1``/``0``
or ``{"status", "error"}`` on ``/track``, ``{"code", "num_records_imported", "status"}`` and
``failed_records`` on ``/import``, each refusal carrying our ``details`` too.
"""

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ingest_gateway.dropin.mixpanel_answers import failed_records, mixpanel_detail, summary
from ingest_gateway.dropin.mixpanel_body import flag, read_messages
from ingest_gateway.dropin.wire import (
    ANON_ID,
    DISTINCT_ID,
    EVENT,
    IDENTIFY,
    INSERT_ID,
    PROPERTIES,
    TIMESTAMP,
    Translated,
    WireRequest,
    basic_auth_user,
    end_user,
    may_hold_nul,
    with_details,
)
from ingest_gateway.errors import IngestError, ValidationFailed
from ingest_gateway.validation import body_error

TRACK_MAX_EVENTS = 50
IMPORT_MAX_EVENTS = 2000
MAX_BODY_BYTES = 1024 * 1024  # ours; Mixpanel takes 10 MB on /import
# A time at least this large is milliseconds (from March 1973), a smaller one seconds
# (until the year 5138): Mixpanel takes both and refuses times before 1971 anyway.
MILLISECONDS_FROM = 100_000_000_000
DEVICE_PREFIX = "$device:"

# Mixpanel's page properties → ours, which the dashboards and the workers read.
RENAMED = {"$current_url": "$url", "current_url_path": "$pathname", "current_page_title": "$title"}
_MIXPANEL_PAGE = frozenset(RENAMED)
EVENT_NAMES = {"$mp_web_page_view": "$pageview"}
IDENTITY_EVENTS = frozenset({"$identify", "$create_alias", "$merge"})

Problem = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


class MixpanelFormat:
    """The ``WireFormat`` of Mixpanel's ``/track`` and ``/import``; ``clock`` gives the
    receive time (a test's fixed one)."""

    name: str = "mixpanel"
    paths: tuple[str, ...] = ("/track", "/track/", "/import", "/import/")
    max_body_bytes: int = MAX_BODY_BYTES

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock  # the receive time, for messages without one

    def translate(self, request: WireRequest) -> Translated:
        messages = read_messages(request)
        importing = is_import(request)
        cap = IMPORT_MAX_EVENTS if importing else TRACK_MAX_EVENTS
        if len(messages) > cap:
            raise body_error(f"At most {cap} events per request.")
        received = self.clock()
        contexts = [located(message) for message in messages]  # before their ``ip`` goes
        events: list[Any] = []
        tokens: dict[int, str | None] = {}  # per message that is an object
        problems: list[Problem] = []
        for index, message in enumerate(messages):
            event, token, found = translate_message(message, received)
            events.append(event)
            if type(message) is dict:
                tokens[index] = token
            if found:
                problems += [{"index": index, **problem} for problem in found]
        basic = basic_auth_user(request.authorization) if importing else None
        key = basic if basic is not None else request_token(tokens, problems)
        if problems:
            raise ValidationFailed(sorted(problems, key=lambda p: p["index"]))
        return Translated(
            api_key=key,
            events=events,
            max_events=cap,
            contexts=contexts if any(contexts) else [],  # none: the request's, for all
            may_hold_nul=may_hold_nul(request.body),
            request_address=flag(request, "ip"),
        )

    def accepted(self, request: WireRequest, count: int) -> web.Response:
        verbose = flag(request, "verbose")
        if is_import(request):
            # mixpanel-python (verbose=1) requires status 1; mixpanel-java and the
            # documented JSON /import answer "OK".
            status: int | str = 1 if verbose else "OK"
            return web.json_response({"code": 200, "num_records_imported": count, "status": status})
        if verbose:
            return web.json_response({"status": 1, "error": None})
        return web.Response(text="1", content_type="text/plain")

    def refused(self, request: WireRequest, error: IngestError) -> web.Response:
        details = [mixpanel_detail(d) for d in error.body.get("details", ())]
        message = summary(error, details)
        if is_import(request):
            body: dict[str, Any] = {
                "code": error.status,
                "error": message,
                "status": HTTPStatus(error.status).phrase,
                "num_records_imported": 0,
            }
            if error.status == 400:
                body["failed_records"] = failed_records(request, details)
        elif flag(request, "verbose") or not request.body:
            # No body: refused before it was read (too large, bad encoding), so whether the
            # form asked for verbose is unknown; mixpanel-python always does, and a client
            # that did not only looks for "1".
            body = {"status": 0, "error": message}
        else:
            return web.Response(text="0", content_type="text/plain", status=error.status)
        body = with_details(body, error)
        if details:
            body["details"] = details
        return web.json_response(body, status=error.status)


def located(message: Any) -> dict[str, str]:
    """Where Mixpanel would locate the event: its ``ip`` property, else (``Translated``'s
    ``request_address``) the request's address only with ``ip=1`` (mixpanel-python sends
    ``ip=0``: the request comes from the customer's server, not the end user)."""
    properties = message.get("properties") if isinstance(message, dict) else None
    if not isinstance(properties, dict) or "ip" not in properties:
        return {}  # the common case, decided at once
    return end_user(None, properties.get("ip"))


def is_import(request: WireRequest) -> bool:
    return request.path.rstrip("/") == "/import"


def translate_message(message: Any, received: datetime) -> tuple[Any, str | None, list[Problem]]:
    """One message → (our event, its token, its problems as ``{"field", "message"}``). A
    message that is not an object is passed on for validation to name."""
    if type(message) is not dict:
        return message, None, []
    properties = message.get("properties", {})
    if type(properties) is not dict:
        return message, None, [{"field": "properties", "message": "Must be an object."}]
    problems: list[Problem] = []
    name = message.get("event")
    if type(name) is not str:  # passed on for validation to name (it may be unhashable)
        name, sent_name = None, name
    else:
        sent_name = EVENT_NAMES.get(name, name)
    identifying = name in IDENTITY_EVENTS
    # Read into our fields or used as the key, and taken out of the properties we store
    # (the parsed message's own, changed in place: it is read once). ``ip`` is the end
    # user's address, which Mixpanel only geolocates: ``located`` read it as the record's
    # context address, which the workers locate and then drop, so no address is stored.
    moment = properties.pop("time", None)
    distinct = properties.pop("distinct_id", None)
    insert_id = properties.pop("$insert_id", None)
    token = properties.pop("token", None)
    properties.pop("ip", None)
    sent = None if moment is None else event_time(moment)
    when, micros = (received, None) if sent is None else sent
    if sent is None and moment is not None:
        problems.append(
            {
                "field": "properties.time",
                "message": "Must be seconds or milliseconds since the epoch.",
            }
        )
    anon = None
    if (
        type(distinct) is not str
        or not distinct
        or identifying
        or "$user_id" in properties
        or "$device_id" in properties
    ):
        distinct, anon = identity(name, properties, distinct, problems)
    kept = stored_properties(properties)
    event: dict[str, Any] = {
        EVENT: IDENTIFY if identifying else sent_name,
        TIMESTAMP: when,  # a UTC datetime, as validation takes it
        PROPERTIES: kept,
        INSERT_ID: None,
    }
    if distinct is not None:
        event[DISTINCT_ID] = distinct
    if anon is not None:
        kept[ANON_ID] = anon
    if type(insert_id) is not str:
        insert_id = as_id(insert_id)
    if isinstance(insert_id, str) and insert_id:
        moment_text = "" if micros is None else micros
        event[INSERT_ID] = message_dedup_id(name, distinct, moment_text, insert_id)
    elif insert_id not in (None, ""):
        problems.append({"field": "properties.$insert_id", "message": "Must be a string."})
    elif identifying and distinct is not None and anon is not None:
        # A retried alias or merge (mixpanel-python sends them without one) counts once.
        event[INSERT_ID] = dedup_id(name, distinct, anon)
    if token is not None and type(token) is not str:
        problems.append({"field": "properties.token", "message": "Must be a string."})
        token = None
    return event, token, problems


def identity(
    name: str | None, properties: dict[str, Any], distinct_id: Any, problems: list[Problem]
) -> tuple[Any, str | None]:
    """``(distinctId, $anonDistinctId)`` of a message (``distinct_id`` is its own, read out
    of ``properties``), either None when it has none (a missing distinct id is then named
    by validation). A non-string id is passed on for validation to name, a number as its
    text (Mixpanel takes numeric ids)."""
    distinct = as_id(distinct_id)
    if name == "$identify":
        known = as_id(properties.get("$identified_id"))
        return (known if known is not None else distinct), _text(
            properties.get("$anon_distinct_id")
        )
    if name == "$create_alias":
        return distinct, _text(as_id(properties.get("alias")))
    if name == "$merge":
        ids = properties.get("$distinct_ids")
        pair = [as_id(i) for i in ids] if isinstance(ids, list) else []
        if len(pair) != 2 or not all(isinstance(i, str) and i for i in pair):
            problems.append(
                {
                    "field": "properties.$distinct_ids",
                    "message": "Must be a list of two distinct ids.",
                }
            )
            return distinct, None
        return pair[0], pair[1]
    # Simplified ID Merge: $user_id once the user is known, $device_id before and after.
    user, device = (
        _text(as_id(properties.get("$user_id"))),
        _text(as_id(properties.get("$device_id"))),
    )
    device_id = None if device is None else device_distinct_id(device)
    if user is not None:
        return user, device_id
    if distinct is None or distinct == "":
        return (device_id if device_id is not None else distinct), None
    return distinct, None


def as_id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def device_distinct_id(device: str) -> str:
    """The distinct id Mixpanel gives a device's anonymous events: ``$device:<id>``."""
    return device if device.startswith(DEVICE_PREFIX) else DEVICE_PREFIX + device


def event_time(value: Any) -> tuple[datetime, int] | None:
    """Seconds or milliseconds since the epoch (``MILLISECONDS_FROM`` tells them apart) as
    a UTC time and as whole microseconds (the time in Mixpanel's deduplication key: the
    same moment, sent in seconds or in milliseconds, is the same); None for anything else
    or out of range."""
    kind = type(value)
    if kind is not int and kind is not float:
        return None  # a bool is an int, but not a time
    try:
        if abs(value) >= MILLISECONDS_FROM:
            return datetime.fromtimestamp(value / 1000, UTC), round(value * 1000)
        return datetime.fromtimestamp(value, UTC), round(value * 1_000_000)
    except (OverflowError, OSError, ValueError):
        return None


def stored_properties(kept: dict[str, Any]) -> dict[str, Any]:
    """The properties we store, made of the message's own once its reserved ones are out
    (changed in place: a message is read before, and never after): its page properties on
    ours."""
    if not _MIXPANEL_PAGE.isdisjoint(kept):
        for theirs, ours in RENAMED.items():
            if theirs in kept:
                kept.setdefault(ours, kept.pop(theirs))
    if kept.get("$referrer") == "$direct":  # Mixpanel's word for "no referrer"
        del kept["$referrer"]
    if "$pathname" not in kept:
        url = kept.get("$url")
        if type(url) is str and (path := url_path(url)) is not None:
            kept["$pathname"] = path
    return kept


@functools.lru_cache(maxsize=4096)  # a site's few pages repeat
def url_path(url: str) -> str | None:
    try:
        return urlsplit(url).path or "/"
    except ValueError:  # not a URL: no path to show
        return None


def dedup_id(*parts: object) -> str:
    """Our ``insertId`` for a Mixpanel message: the SHA-256 (64 hex digits) of what Mixpanel
    deduplicates on, ``(event, distinct_id, time, $insert_id)``. A retry is the same
    message, so the same id (counted once); two events sharing an ``$insert_id`` but not
    their name, user or time are two events, in Mixpanel and here."""
    return digest("\x00".join(map(str, parts)))


def message_dedup_id(event: object, distinct: object, moment: object, insert_id: str) -> str:
    """``dedup_id(event, distinct, moment, insert_id)``, each message's: the same text
    formatted at once (a third cheaper than joining the parts, on the hot path)."""
    return digest(f"{event}\x00{distinct}\x00{moment}\x00{insert_id}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def request_token(tokens: dict[int, str | None], problems: list[Problem]) -> str | None:
    """The request's key: its first event's token, which every event must carry (a message
    that is not an object is left to validation)."""
    key = next((token for token in tokens.values() if token is not None), None)
    if key is None:
        return None  # no key: refused 401 as on POST /
    for index, token in tokens.items():
        if token != key:
            problems.append(
                {
                    "index": index,
                    "field": "properties.token",
                    "message": "Every event of a request must carry the same token.",
                }
            )
    return key


MIXPANEL = MixpanelFormat()
