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

import hypothesis
import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ASTRAL = "\U0001f600"

texts = st.one_of(
    st.sampled_from(["page_viewed", "signup", "$pathname", "plan", "", " "]),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=4).map(lambda s: s * 400),
    st.sampled_from(["\x00", "a\x00b", ASTRAL * 3000, ASTRAL * 256, "x" * 1025, "k" * 201]),
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
_OFFSETS = [timezone(timedelta(minutes=m)) for m in (-1439, -60, -1, 0, 1, 31, 60, 330, 1439)]


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    """Mostly real moments (years 1 to 9999, any offset, or none); else anything."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(texts, integers, st.none(), json_values))
    moment = draw(st.datetimes(min_value=datetime.min, max_value=datetime.max))
    zone = draw(st.sampled_from([None, *_OFFSETS]))
    return moment.replace(tzinfo=zone).isoformat()


@st.composite
def events(draw: st.DrawFn) -> Any:
    """An event whose fields are each usually valid, sometimes hostile, sometimes missing."""
    good: dict[str, st.SearchStrategy[Any]] = {
        "event": st.sampled_from(["page_viewed", "signup", "checkout"]),
        "timestamp": timestamps(),
        "distinctId": st.text(min_size=1, max_size=20),
        "sessionId": st.text(min_size=1, max_size=20),
        "properties": st.dictionaries(texts, json_values, max_size=6),
        "insertId": st.one_of(st.none(), st.text(min_size=1, max_size=64)),
    }
    event: dict[str, Any] = {}
    for name, valid in good.items():
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # missing
        event[name] = draw(json_values if choice == 1 else valid)
    if draw(st.integers(0, 9)) == 0:
        event[draw(texts)] = draw(json_values)  # an extra field
    return event


def _dumps(document: Any) -> bytes:
    try:
        return orjson.dumps(document)
    except TypeError:  # an integer past 64 bits: the standard library writes it
        return json.dumps(document).encode()


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
    else:  # an array; now and then empty or past the 100-event limit
        size = draw(st.sampled_from([1, 1, 2, 5, 0, 101]))
        some = draw(st.lists(events(), min_size=1, max_size=3))
        document = (some * size)[:size]
    return _dumps(document)


_header_bytes = st.binary(max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").strip()
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
    encoding = draw(st.sampled_from([None, None, "identity", "gzip", "deflate", "br", "b\xff"]))
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        if encoding == "gzip" and draw(st.booleans()):
            body = gzip.compress(body)
        elif encoding == "deflate" and draw(st.booleans()):
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

    def post(self, body: bytes, headers: dict[str, Any]) -> int:
        """The status of one ``POST /``; 599 when the gateway closed without any answer."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request("POST", "/", body=body, headers=_latin1(headers))
                response = self.connection.getresponse()
                response.read()
                if response.will_close:
                    self.close()
                return response.status
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    return 599
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
    sender, seen = Sender(base_url), {"sent": 0, "5xx": 0}

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        phases=[Phase.generate],  # count, never shrink: a 5xx is a figure here, not a failure
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(api_key))
    def send(request: tuple[bytes, dict[str, Any]]) -> None:
        status = sender.post(*request)
        seen["sent"] += 1
        seen["5xx"] += status >= 500

    try:
        send()
    finally:
        sender.close()
    return seen["sent"], seen["5xx"]


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
