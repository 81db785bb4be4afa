"""Caps on what one event may carry, so that every accepted event fits the store: pure functions.

Why these numbers. A breakdown rollup keeps ``(project, event, key, granularity, bucket,
value)`` in one unique btree index, and PostgreSQL refuses an index entry over 2704 bytes —
a batch holding one such row fails as a whole. Sizes are counted in UTF-8 bytes, because a
character can take four: an event name of at most 100 characters (<= 400 bytes), a property
key of at most 200 characters (<= 800 bytes) and a string value of at most 1024 bytes make
an entry of at most ~2.3 kB whatever the characters (PostHog and Amplitude cap values
about as much). Objects and arrays are kept whole only in the raw store's jsonb, which no
index covers (a breakdown on one keeps a cut of its JSON text), so they get a looser size
cap, and a depth cap well inside the JSON encoder's own (254 levels). PostgreSQL's text and
jsonb cannot hold U+0000, so NUL is refused in every string.

Numbers. The JSON parser (orjson) keeps an integer exact from -2^63 to 2^64 - 1, and so do
the records, the worker and jsonb after it; an integer literal past that range comes out of
the parser as the nearest double, its last digits gone before anything sees it. Such a
double is at most -2^63 or at least 2^64, so a float there is refused: it may be a rounded
integer, and the parsed value cannot tell (so a float that large sent as one, ``1e20``, is
refused too). Floats inside the range are kept as they were sent.
"""

from typing import Any

import orjson

MAX_KEY_CHARS = 200
MAX_STRING_BYTES = 1024
MAX_NESTED_BYTES = 8192
MAX_DEPTH = 32
# Floats outside (-2^63, 2^64) may be integers the parser rounded (module docstring).
_FLOAT_FLOOR = -(2.0**63)
_FLOAT_CEILING = 2.0**64
_FIELD_KEY_CHARS = 64  # how much of a refused key a detail's ``field`` repeats

NUL_MESSAGE = "Must not contain NUL (\\u0000) characters."
OUT_OF_RANGE_MESSAGE = (
    "Numbers must be within the 64-bit integer range"
    " (-9223372036854775808 to 18446744073709551615): past it an integer loses digits."
)
_EVENT_TEXT_FIELDS = ("event", "distinctId", "sessionId", "insertId")
# A string of at most this many characters is within MAX_STRING_BYTES whatever they are.
_SURELY_SHORT = MAX_STRING_BYTES // 4

Problem = tuple[str, str]  # (field, message)


def event_problems(event: dict[str, Any], may_hold_nul: bool = True) -> list[Problem]:
    """What in an event the store could not hold; fields of the wrong type are left to the
    schema, which explains those. ``may_hold_nul=False`` (the body has no ``\\u0000``, the
    only way JSON spells NUL) skips looking for NUL."""
    problems: list[Problem] = []
    if may_hold_nul:
        problems += [
            (name, NUL_MESSAGE)
            for name in _EVENT_TEXT_FIELDS
            if type(value := event.get(name)) is str and "\x00" in value
        ]
    properties = event.get("properties")
    if type(properties) is not dict:
        return problems
    for key, value in properties.items():
        kind = type(value)
        # The hot path: a short key with a short string or a scalar needs no closer look.
        if (
            kind is dict
            or kind is list
            or len(key) > MAX_KEY_CHARS
            or (kind is str and len(value) > _SURELY_SHORT)
            or (kind is float and not _FLOAT_FLOOR < value < _FLOAT_CEILING)
            or (may_hold_nul and ("\x00" in key or (kind is str and "\x00" in value)))
        ):
            problem = key_problem(key) or value_problem(value)
            if problem is not None:
                problems.append((property_field(key), problem))
    return problems


def property_field(key: str) -> str:
    """A detail's ``field`` for a property: its key, cut and with NUL spelled out."""
    shown = key if len(key) <= _FIELD_KEY_CHARS else key[:_FIELD_KEY_CHARS] + "…"
    return "properties." + shown.replace("\x00", "\\u0000")


def key_problem(key: str) -> str | None:
    if len(key) > MAX_KEY_CHARS:
        return f"Property keys must be at most {MAX_KEY_CHARS} characters."
    if "\x00" in key:
        return NUL_MESSAGE
    return None


def value_problem(value: Any) -> str | None:
    """Why one property value cannot be stored, or None."""
    kind = type(value)
    if kind is str:
        return _string_problem(value)
    if kind is dict or kind is list:
        return _nested_problem(value)
    if kind is float and not _FLOAT_FLOOR < value < _FLOAT_CEILING:
        return OUT_OF_RANGE_MESSAGE
    return None  # other numbers (finite: the parser refuses the others), booleans, null


def _string_problem(value: str) -> str | None:
    if len(value) > _SURELY_SHORT and len(value.encode("utf-8", "surrogatepass")) > (
        MAX_STRING_BYTES
    ):
        return f"Strings must be at most {MAX_STRING_BYTES} bytes in UTF-8."
    if "\x00" in value:
        return NUL_MESSAGE
    return None


def _nested_problem(value: dict[str, Any] | list[Any]) -> str | None:
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:  # deeper than the encoder goes: far past MAX_DEPTH
        return _too_deep()
    if len(encoded) > MAX_NESTED_BYTES:
        return f"Objects and arrays must be at most {MAX_NESTED_BYTES} bytes as JSON."
    return _walk(value)


def _walk(value: dict[str, Any] | list[Any]) -> str | None:
    """Depth, NUL and number range over a value already known to be small (at most
    MAX_NESTED_BYTES)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _too_deep()
        children = node.items() if type(node) is dict else enumerate(node)
        for key, child in children:
            if type(key) is str and "\x00" in key:
                return NUL_MESSAGE
            kind = type(child)
            if kind is str and "\x00" in child:
                return NUL_MESSAGE
            if kind is float and not _FLOAT_FLOOR < child < _FLOAT_CEILING:
                return OUT_OF_RANGE_MESSAGE
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
    return None


def _too_deep() -> str:
    return f"Objects and arrays must be nested at most {MAX_DEPTH} levels deep."
