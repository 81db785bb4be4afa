"""Fuzzed ``POST /api/query`` bodies (Hypothesis strategies) and a sender that counts 5xx.

The strategies start from the shapes the API takes and bend them the ways a hostile or
careless client would: NUL and astral characters, dates from year 1 to 9999 with odd
offsets, integers past 2^63, floats, wrong types in every field, missing and extra keys,
deep nesting, and bytes that are not JSON at all. ``fuzz`` sends ``count`` of them to a
running App API (or a standalone query API) and returns (sent, 5xx seen); the test suite
(``tests/integration/query_api/test_fuzz.py``) uses the same strategies.

Run from the repository root against a running App API, with a session cookie or a CLI
token of a member of ``--project``::

    python -m benchmarks.query_fuzzing --url http://127.0.0.1:8081 --project demo \
        --cookie <ra_session value> [--count 2000]
"""

import argparse
import http.client
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from hypothesis import strategies as st

from benchmarks.fuzzing import count_5xx
from query_api.model import OPS

PATH = "/api/query"
KINDS = ("timeseries", "breakdown", "metric", "funnel", "retention", "paths", "lifecycle")
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati", "Australia/Lord_Howe")

# Text as clients send it, and as they should not: NUL, lone astral characters, long runs.
texts = st.one_of(
    st.sampled_from(["$pageview", "signup", "purchase", "$pathname", "", " "]),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).map(lambda s: s * 300),
    st.sampled_from(["\x00", "a\x00b", "\U0001f600" * 50, "'; DROP TABLE events; --"]),
)
integers = st.one_of(
    st.integers(-(2**31), 2**31),
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64 - 1, 10**30]),
)
numbers = st.one_of(integers, st.floats(allow_nan=False, allow_infinity=False))
json_scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def moments(draw: st.DrawFn) -> str:
    """An ISO 8601 date from year 1 to 9999, with an odd offset or none."""
    year = draw(st.one_of(st.sampled_from([1, 1969, 1970, 2099, 2100, 9999]), st.integers(1, 9999)))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    zone = draw(st.sampled_from(["Z", "", "+05:30", "-12:00", "+14:00", "+23:59", "-23:59"]))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:59.999{zone}"


RECENT = st.datetimes(datetime(2025, 6, 1), datetime(2026, 6, 1), timezones=st.just(UTC))
EVENTS = st.sampled_from(["$pageview", "signup", "purchase"])
KEYS = st.sampled_from(["$pathname", "$browser", "plan", "amount"])


@st.composite
def good_filters(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(OPS))
    scalar = st.one_of(st.sampled_from(["/pricing", "Chrome", "pro"]), st.integers(0, 100))
    value: Any = None
    if op in ("in", "not_in"):
        value = draw(st.lists(scalar, min_size=1, max_size=5))
    elif op in ("contains", "not_contains"):
        value = draw(st.sampled_from(["pri", "CHROME", "o"]))
    elif op not in ("is_set", "is_not_set"):
        value = draw(scalar)
    return {"key": draw(KEYS), "op": op, **({} if value is None else {"value": value})}


@st.composite
def good_documents(draw: st.DrawFn, projects: tuple[str, ...]) -> dict[str, Any]:
    """A query the API answers (or refuses only for membership): every type and option."""
    kind = draw(st.sampled_from(KINDS))
    start = draw(RECENT)
    end = start + draw(st.timedeltas(timedelta(0), timedelta(days=10)))
    span = {"start": start.isoformat(), "end": end.isoformat()}
    document: dict[str, Any] = {
        "type": kind,
        "projectId": draw(st.sampled_from(projects)),
        "dateRange": span,
    }
    if kind == "funnel":
        steps = st.fixed_dictionaries({"event": EVENTS}, optional={"filter": good_filters()})
        document["steps"] = draw(st.lists(steps, min_size=2, max_size=4))
        unit = draw(st.sampled_from(["second", "minute", "hour", "day", "week"]))
        document["conversionWindow"] = {"value": draw(st.integers(1, 50)), "unit": unit}
    elif kind in ("retention", "paths", "lifecycle"):
        document.update(draw(person_options(kind)))
    else:
        document["event"] = draw(EVENTS)
        document["metric"] = draw(st.sampled_from(["count", "unique_users", "sessions"]))
    if kind == "timeseries":
        document["timezone"] = draw(st.sampled_from(ZONES))
        if draw(st.booleans()):
            document["interval"] = draw(st.sampled_from(["hour", "day", "week", "month"]))
    if kind == "breakdown":
        document["breakdown"] = draw(KEYS)
        document["limit"] = draw(st.integers(1, 100))
    if draw(st.booleans()):
        document["filters"] = draw(st.lists(good_filters(), max_size=3))
    if draw(st.booleans()):
        document["includeBots"] = draw(st.booleans())
    return document


@st.composite
def person_options(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """The fields of a retention, paths or lifecycle query (issue 18)."""
    zone = {"timezone": draw(st.sampled_from(ZONES))}
    if kind == "paths":
        return {
            "startEvent": draw(EVENTS),
            "direction": draw(st.sampled_from(["next", "previous"])),
            "steps": draw(st.integers(1, 5)),
            "limit": draw(st.integers(1, 20)),
            **zone,
        }
    interval = {"interval": draw(st.sampled_from(["day", "week", "month"])), **zone}
    if kind == "lifecycle":
        return {"event": draw(EVENTS), **interval}
    return {"startEvent": draw(EVENTS), "returnEvent": draw(EVENTS), **interval}


def hostile_values() -> st.SearchStrategy[Any]:
    return st.one_of(texts, numbers, moments(), json_values)


@st.composite
def hostile_like(draw: st.DrawFn, key: Any, value: Any) -> Any:
    """A hostile value of the same kind as ``value``: what a schema passes on."""
    if key in ("start", "end"):
        return draw(moments())
    if isinstance(value, str):
        nul = st.sampled_from([value + "\x00", "\x00" + value, value[:1] + "\x00"])
        return draw(st.one_of(nul, texts))
    if isinstance(value, bool) or value is None:
        return draw(json_values)
    if isinstance(value, int | float):
        return draw(numbers)
    if isinstance(value, list):
        return draw(st.lists(st.one_of(hostile_values(), good_filters()), max_size=30))
    return draw(hostile_values())


def _places(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key or index path in a JSON document."""
    found = [path] if path else []
    if isinstance(document, dict):
        items: Any = document.items()
    elif isinstance(document, list):
        items = enumerate(document)
    else:
        items = ()
    for key, value in items:
        found += _places(value, (*path, key))
    return found


@st.composite
def query_documents(draw: st.DrawFn, projects: tuple[str, ...]) -> Any:
    """A good query with up to three places made hostile (most often a value of the same
    kind: a NUL in a string, a date at year 9999, an integer past 2^63), replaced by any
    JSON, removed or added to: past the schema, into the planner, the SQL and the database."""
    document = draw(good_documents(projects))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_places(document)))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["like", "like", "like", "replace", "delete", "add"]))
        if action == "like":
            parent[path[-1]] = draw(hostile_like(path[-1], parent[path[-1]]))
        elif action == "replace":
            parent[path[-1]] = draw(hostile_values())
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(texts)] = draw(hostile_values())
    return document


def _deep(depth: int) -> bytes:
    return b'{"type": "metric", "filter": ' + b"[" * depth + b"]" * depth + b"}"


def _dumps(document: Any) -> bytes:
    try:
        return orjson.dumps(document)
    except TypeError:  # an integer past 64 bits: the standard library writes it
        return json.dumps(document).encode()


def query_bodies(projects: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Request bodies: nine in ten JSON query documents; the rest deep nesting, huge
    numbers or bytes that are not JSON."""
    odd = st.one_of(
        st.integers(100, 5000).map(_deep),
        st.binary(max_size=200),
        st.sampled_from(
            [b"", b"null", b"[]", b'"x"', b"1e999", b'{"limit": 1' + b"0" * 400 + b"}"]
        ),
    )
    documents = query_documents(projects).map(_dumps)
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else documents)


class Sender:
    """One kept-alive HTTP/1.1 connection to the API (reopened when the server closes it)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers: dict[str, Any] = {"Content-Type": "application/json", **headers}
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, Any] | None = None) -> int:
        """The status of one POST; ``headers`` (values may be bytes) add to the sender's."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                every = {**self.headers, **(headers or {})}
                self.connection.request("POST", PATH, body=body, headers=every)
                response = self.connection.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def fuzz(
    base_url: str, headers: dict[str, str], projects: tuple[str, ...], count: int, seed: int = 0
) -> tuple[int, int]:
    """Send ``count`` fuzzed bodies to ``base_url`` + ``/api/query``: (sent, 5xx answers)."""
    sender = Sender(base_url, headers)
    try:
        return count_5xx(query_bodies(projects), sender.post, count, seed)
    finally:
        sender.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8081")
    parser.add_argument("--project", action="append", required=True)
    parser.add_argument("--cookie", help="the ra_session cookie of a member")
    parser.add_argument("--token", help="a CLI access token (ra_cli_...) of a member")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    headers = {}
    if args.cookie:
        headers["Cookie"] = f"ra_session={args.cookie}"
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    started = time.perf_counter()
    sent, errors = fuzz(args.url, headers, tuple(args.project), args.count)
    seconds = time.perf_counter() - started
    print(f"query fuzz: {sent} requests in {seconds:.1f} s, 5xx seen: {errors} (must be 0)")


if __name__ == "__main__":
    main()
