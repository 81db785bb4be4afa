"""Fuzzed ``POST /`` requests for the ingest gateway (Hypothesis strategies) and a sender that
counts 5xx.

The strategies start from the event shapes the gateway takes and bend them the ways a
hostile or careless producer would: NUL, astral and lone-surrogate characters, timestamps
from year 1 to 9999 with odd offsets, integers past 2^64, numbers that overflow a double,
wrong types and missing fields, oversized keys and values, nesting past every parser's
depth, bodies that are not JSON, wrong or corrupt ``Content-Encoding``, and header values
that are not UTF-8. ``fuzz`` sends ``count`` of them to a running gateway and returns
(sent, 5xx seen); a request the gateway drops without any answer counts as a 5xx. The test
suite (``tests/integration/ingest_gateway/test_fuzz.py``) uses the same strategies.

Run from the repository root against a running gateway, with a live public key::

    python -m benchmarks.ingest_fuzzing --url http://127.0.0.1:8080 --key pk_live_... \
        [--count 2000]
"""

import argparse
import gzip
import http.client
import json
import time
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import orjson
from hypothesis import strategies as st

from benchmarks.fuzzing import count_5xx

ASTRAL = "\U0001f600"

# Text as producers send it, and as they should not: NUL, astral runs, long runs, empty.
hostile_texts = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "", " ", ASTRAL * 3000, ASTRAL * 256, ASTRAL * 257]),
    st.sampled_from(["x" * 1024, "x" * 1025, "k" * 200, "k" * 201, "'; DROP TABLE events; --"]),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=4).map(lambda s: s * 400),
)
texts = st.one_of(
    st.sampled_from(["page_viewed", "signup", "$pathname", "plan", "/pricing"]),
    st.text(max_size=30),
    hostile_texts,
)
integers = st.one_of(
    st.integers(-(2**31), 2**31),
    st.sampled_from([2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**400]),
)
scalars = st.one_of(
    st.none(), st.booleans(), integers, st.floats(allow_nan=False, allow_infinity=False), texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)
# Number tokens JSON encoders never write: put in the body in place of a placeholder string.
RAW_TOKENS = (b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 400, b"1e-400")
_OFFSETS = [timezone(timedelta(minutes=m)) for m in (-1439, -60, -1, 0, 1, 31, 60, 330, 1439)]
_RECENT, _SOON = datetime(2020, 1, 1), datetime(2030, 1, 1)
_EDGES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:30+00:31",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999+00:00",
]


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    """Mostly recent moments in any offset; else year 1 to 9999 (edges too), or anything."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.one_of(texts, integers, st.none(), json_values))
    if kind == 1:
        return draw(st.sampled_from(_EDGES))
    low, high = (
        (datetime.min, datetime.max) if kind == 2 else (datetime(2020, 1, 1), datetime(2030, 1, 1))
    )
    moment = draw(st.datetimes(min_value=low, max_value=high))
    zone = draw(st.sampled_from([None, *_OFFSETS]))
    try:
        return moment.replace(tzinfo=zone).isoformat()
    except OverflowError:
        return moment.isoformat()


_VALID: dict[str, st.SearchStrategy[Any]] = {
    "event": st.sampled_from(["page_viewed", "signup", "checkout"]),
    "timestamp": timestamps(),
    "distinctId": st.text(min_size=1, max_size=20),
    "sessionId": st.text(min_size=1, max_size=20),
    "properties": st.dictionaries(
        st.sampled_from(["$pathname", "plan", "source", "n"]), scalars, max_size=4
    ),
}
_HOSTILE_PROPERTY_VALUES = st.one_of(
    hostile_texts,
    json_values,
    st.integers(2, 1100).map(_nested),
    st.sampled_from(RAW_TOKENS).map(lambda t: f"__raw_{RAW_TOKENS.index(t)}__"),
)


@st.composite
def events(draw: st.DrawFn) -> Any:
    """A valid event with none to three hostile changes: a field dropped, a field of any
    type or a hostile text, a property key or value that is hostile, an extra field."""
    event = {name: draw(valid) for name, valid in _VALID.items()}
    if draw(st.booleans()):
        event["insertId"] = draw(st.text(min_size=1, max_size=64))
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.integers(0, 5))
        field = draw(st.sampled_from(sorted(event)))
        if change == 0:
            event.pop(field, None)
        elif change == 1:
            event[field] = draw(st.one_of(json_values, hostile_texts))
        elif change in (2, 3) and isinstance(event.get("properties"), dict):
            event["properties"][draw(texts)] = draw(_HOSTILE_PROPERTY_VALUES)
        elif change == 4:
            event["timestamp"] = draw(st.sampled_from(_EDGES))
        else:
            event[draw(texts)] = draw(json_values)  # an extra field
    return event


_TINY = {"event": "e", "timestamp": "2026-02-03T15:30:00Z", "distinctId": "u", "sessionId": "s"}


def _dumps(document: Any) -> bytes:
    try:
        body = orjson.dumps(document)
    except (TypeError, orjson.JSONEncodeError):  # past 64 bits or 254 levels: the stdlib
        body = json.dumps(document).encode()
    for n, token in enumerate(RAW_TOKENS):
        body = body.replace(f'"__raw_{n}__"'.encode(), token)
    return body


def _deep(depth: int) -> bytes:
    head = b'{"event":"e","timestamp":"2026-02-03T15:30:00Z","distinctId":"u","sessionId":"s",'
    return head + b'"properties":{"deep":' + b"[" * depth + b"]" * depth + b"}}"


def _spliced(body: bytes, at: int, piece: bytes) -> bytes:
    at = at % (len(body) + 1)
    return body[:at] + piece + body[at:]


@st.composite
def bodies(draw: st.DrawFn, api_key: str) -> bytes:
    """Nine in ten: a JSON document in one of the three shapes (or not quite); the rest deep
    nesting, odd literals, spliced bytes or bytes that are not JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.one_of(
                st.integers(30, 3000).map(_deep),
                st.binary(max_size=200),
                st.sampled_from(
                    [b"", b"null", b"[]", b"{}", b"NaN", b"[1e999]", b'"\\ud800"', b"\xff\xfe"]
                ),
                st.just(b'{"blob": "' + b"x" * (1024 * 1024) + b'"}'),  # past the size limit
                st.tuples(events().map(_dumps), st.integers(0, 500), st.binary(max_size=8)).map(
                    lambda t: _spliced(*t)
                ),
                st.tuples(events().map(_dumps), st.integers(0, 500)).map(
                    lambda t: _spliced(t[0], t[1], b'"\\udc00"')
                ),
            )
        )
    shape = draw(st.integers(0, 5))
    if shape == 0:
        document: Any = draw(events())
    elif shape == 1:
        document = {"apiKey": draw(st.sampled_from([api_key, "pk_live_nope", 5])), "events": []}
        document["events"] = draw(st.lists(events(), max_size=3))
    elif shape == 2:
        document = draw(json_values)
    elif draw(st.integers(0, 9)) == 0:  # empty, or past the 100-event limit
        document = draw(st.sampled_from([[], [_TINY] * 101]))
    else:
        document = draw(st.lists(events(), min_size=1, max_size=5))
    return _dumps(document)


# Header values that are not UTF-8: mostly printable bytes and bytes past 0x7f, which reach
# the gateway's code; sometimes control characters too, which aiohttp's parser refuses.
_header_bytes = st.one_of(
    st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F)),
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").strip()),
)


@st.composite
def requests(draw: st.DrawFn, api_key: str) -> tuple[bytes, dict[str, Any]]:
    """(body, headers): header values may be bytes that are not UTF-8."""
    body = draw(bodies(api_key))
    headers: dict[str, Any] = {}
    key_choice = draw(st.integers(0, 9))
    if key_choice < 7:
        headers["X-API-Key"] = api_key
    elif key_choice == 7:
        headers["X-API-Key"] = draw(_header_bytes)
    elif key_choice == 8:
        headers["X-API-Key"] = draw(st.sampled_from(["sk_live_x", "pk_live_" + "a" * 4000]))
    headers["Content-Type"] = draw(
        st.sampled_from(["application/json", "text/plain;charset=UTF-8", "", "x/\xff"])
    )
    encodings = [None] * 8 + ["identity", "gzip", "gzip", "deflate", "br", "b\xff"]
    encoding = draw(st.sampled_from(encodings))
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        compressed = draw(st.integers(0, 3)) > 0  # else the body is not what it claims
        if encoding == "gzip" and compressed:
            body = gzip.compress(body)
        elif encoding == "deflate" and compressed:
            body = zlib.compress(body)
    for name in ("Origin", "User-Agent"):
        if draw(st.booleans()):
            headers[name] = draw(_header_bytes)
    return body, headers


class Sender:
    """One kept-alive HTTP/1.1 connection to the gateway (reopened when the server closes it)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, Any]) -> int | None:
        """The status of one ``POST /``: 599 when the gateway took the whole request and closed
        without any answer (or is not there); None when it closed while the body was still
        being sent, which is how aiohttp refuses a request head it cannot parse (control
        characters in a header value: 400 and close) and the client never reads that 400."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request("POST", "/", body=body, headers=_latin1(headers))
            except (BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    return None
                continue
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    return 599
                continue
            try:
                response = self.connection.getresponse()
                response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    return 599
                continue
            if response.will_close:
                self.close()
            return response.status
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _latin1(headers: dict[str, Any]) -> dict[str, Any]:
    # http.client sends str values as Latin-1; bytes go as they are.
    return {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in headers.items()}


def fuzz(base_url: str, api_key: str, count: int, seed: int = 0) -> tuple[int, int]:
    """Send ``count`` fuzzed requests to ``base_url`` + ``/``: (sent, 5xx answers)."""
    sender = Sender(base_url)
    try:
        return count_5xx(requests(api_key), lambda request: sender.post(*request), count, seed)
    finally:
        sender.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--key", required=True, help="a live public key (pk_live_...)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    sent, errors = fuzz(args.url, args.key, args.count, args.seed)
    seconds = time.perf_counter() - started
    print(f"ingest fuzz: {sent} requests in {seconds:.1f} s, 5xx seen: {errors} (must be 0)")


if __name__ == "__main__":
    main()
