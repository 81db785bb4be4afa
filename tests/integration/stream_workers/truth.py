"""Ground truth for the stream-worker tests, computed from the generated records in plain
Python (independently of the worker's SQL), and the comparison against the tables."""

import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg

from contracts.events import EventRecord
from stream_workers.enrichment import load_enricher
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS, GRANULARITIES, bucket_start, value_text

EXACT_BELOW = 10_000  # HLL(17, 5) keeps exact values up to ~10k distinct items
HLL_TOLERANCE = 0.01


def record(
    project_id: str,
    event: str,
    ts: datetime,
    distinct_id: str,
    session_id: str = "s1",
    properties: dict[str, object] | None = None,
    insert_id: str | None = None,
    received_at: datetime | None = None,
    quota_reserved: bool = True,
) -> EventRecord:
    """A record as the gateway appends it (by default with its quota reserved)."""
    return EventRecord(
        id=str(uuid.uuid4()),
        project_id=project_id,
        event=event,
        timestamp=ts,
        received_at=received_at or datetime.now(UTC),
        distinct_id=distinct_id,
        session_id=session_id,
        properties=properties or {},
        insert_id=insert_id,
        quota_reserved=quota_reserved,
    )


def generate(
    project_ids: Sequence[str], count: int, seed: int = 7, users: int = 500, days: float = 10
) -> list[EventRecord]:
    """Mixed load: several events, past timestamps over ``days``, breakdown properties
    (some absent), some repeated insertIds."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    out: list[EventRecord] = []
    for n in range(count):
        if out and rng.random() < 0.1:
            # A client retry: the same event again, a new server id, the same insertId.
            retried = out[rng.randrange(len(out))]
            if retried.insert_id is not None:
                out.append(replace(retried, id=str(uuid.uuid4())))
                continue
        user = rng.randrange(users)
        props: dict[str, object] = {"$pathname": rng.choice(["/", "/pricing", "/docs", "/blog"])}
        if rng.random() < 0.5:
            props["$browser"] = rng.choice(["Chrome", "Firefox", "Safari"])
        if rng.random() < 0.2:
            props["$country"] = rng.choice(["US", "IN", "NP", "DE"])
        insert_id = f"i{n}" if rng.random() < 0.3 else None
        out.append(
            record(
                project_ids[n % len(project_ids)] if rng.random() < 0.5 else project_ids[0],
                rng.choice(["$pageview", "signup", "click"]),
                now - timedelta(seconds=rng.randrange(int(days * 86400))),
                f"u{user}",
                f"s{user}-{rng.randrange(3)}",
                props,
                insert_id,
                received_at=now,
            )
        )
    return out


def counted(records: Iterable[EventRecord]) -> list[EventRecord]:
    """Records that count: the first of each (project, insertId); no limit reached."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in records:
        if r.insert_id is not None:
            if (r.project_id, r.insert_id) in seen:
                continue
            seen.add((r.project_id, r.insert_id))
        kept.append(r)
    return kept


@dataclass
class Cell:
    events: int = 0
    users: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)

    def add(self, r: EventRecord) -> None:
        self.events += 1
        self.users.add(r.distinct_id)
        self.sessions.add(r.session_id)


def rollups(records: Iterable[EventRecord]) -> dict[tuple[str, str, str, datetime], Cell]:
    cells: dict[tuple[str, str, str, datetime], Cell] = defaultdict(Cell)
    for r in records:
        for g in GRANULARITIES:
            cells[(r.project_id, r.event, g, bucket_start(r.timestamp, g))].add(r)
    return cells


def enriched(r: EventRecord) -> dict[str, object]:
    """The properties the workers store for a record: what the workers' enrichment adds
    from its context (user agent, address, page) — nothing for the context-less records
    most tests make. Its own rules are tested in tests/unit/stream_workers/test_enrichment.py."""
    if not r.context:
        return r.properties
    return load_enricher().properties(dict(r.properties), r.context)


def breakdowns(
    records: Iterable[EventRecord], keys: Sequence[str] = DEFAULT_BREAKDOWN_KEYS
) -> dict[tuple[str, str, str, str, datetime, str | None], Cell]:
    cells: dict[tuple[str, str, str, str, datetime, str | None], Cell] = defaultdict(Cell)
    for r in records:
        properties = enriched(r)
        for key in keys:
            value = value_text(properties.get(key))
            for g in GRANULARITIES:
                bucket = bucket_start(r.timestamp, g)
                cells[(r.project_id, r.event, key, g, bucket, value)].add(r)
    return cells


def close(actual: float, expected: int) -> bool:
    if expected < EXACT_BELOW:
        return round(actual) == expected
    return abs(actual - expected) <= HLL_TOLERANCE * expected


def assert_projections(conninfo: str, truth: list[EventRecord], usage: bool = True) -> None:
    """Every rollup, breakdown, raw row and (with ``usage``) usage count equals the ground
    truth."""
    with psycopg.connect(conninfo) as conn:
        # Which copy of a retried event is kept is arbitrary; what it holds is not.
        raw = conn.execute(
            "SELECT project_id::text, event, ts, distinct_id, insert_id FROM events"
        ).fetchall()
        assert len(raw) == len(truth)
        assert sorted(raw, key=repr) == sorted(
            ((r.project_id, r.event, r.timestamp, r.distinct_id, r.insert_id) for r in truth),
            key=repr,
        )
        want = rollups(truth)
        rows = conn.execute(
            "SELECT project_id::text, event, granularity, bucket, events,"
            " public.hll_cardinality(users), public.hll_cardinality(sessions) FROM rollups"
        ).fetchall()
        assert {(p, e, g, b): n for p, e, g, b, n, _, _ in rows} == {
            k: c.events for k, c in want.items()
        }
        for p, e, g, b, _, users, sessions in rows:
            cell = want[(p, e, g, b)]
            assert close(users, len(cell.users)), (p, e, g, b, users, len(cell.users))
            assert close(sessions, len(cell.sessions))
        want_b = breakdowns(truth)
        rows = conn.execute(
            "SELECT project_id::text, event, key, granularity, bucket, value, events,"
            " public.hll_cardinality(users) FROM breakdown_rollups"
        ).fetchall()
        assert {r[:6]: r[6] for r in rows} == {k: c.events for k, c in want_b.items()}
        for row in rows:
            assert close(row[7], len(want_b[row[:6]].users))
        if not usage:
            return
        # A deleted project's records lock (create) its usage row and count nothing.
        used = dict(
            conn.execute(
                "SELECT project_id::text, sum(used) FROM usage_months"
                " GROUP BY 1 HAVING sum(used) > 0"
            )
        )
        per_project: dict[str, int] = defaultdict(int)
        for r in truth:
            per_project[r.project_id] += 1
        assert used == per_project
