"""Retention, lifecycle and paths through the real query API and PostgreSQL, against brute
force (person_truth.py): merged persons, bots left out unless included, local periods in
a timezone with a DST change inside the range (America/New_York, 2026-11-01)."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from contracts.events import EventRecord
from tests.integration.query_api import person_truth, truth
from tests.integration.query_api.conftest import World, fill
from tests.integration.query_api.openapi_check import assert_matches_spec
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

LOAD_START = datetime(2026, 10, 1, tzinfo=UTC)
LOAD_DAYS = 40
# u0 → u1, u2 → u3, …: the even ids of the first 60 are merged into the next odd one.
ALIASES = {f"u{n}": f"u{n + 1}" for n in range(0, 60, 2)} | {"anon-7": "known-7"}
# After the load: one person viewing as anonymous, paying after logging in.
LOGIN = datetime(2026, 11, 20, 12, tzinfo=UTC)


def bots(project: str) -> list[EventRecord]:
    """Crawler events, stored raw only (rollups never hold them): crawlers' own ids, and a
    few flagged rows on ordinary users' ids."""
    load = truth.generate(project, LOAD_START, LOAD_DAYS, 600, users=40, seed=23)
    return [
        dataclasses.replace(
            r,
            distinct_id=r.distinct_id if n % 10 == 0 else f"bot-{r.distinct_id}",
            properties={**r.properties, "$bot": True},
        )
        for n, r in enumerate(load)
    ]


def store_raw(world: World, records: list[EventRecord]) -> None:
    with psycopg.connect(world.database, autocommit=True) as conn:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO events (id, project_id, event, ts, received_at, distinct_id,"
                " session_id, properties) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                [
                    (
                        r.id,
                        r.project_id,
                        r.event,
                        r.timestamp,
                        r.received_at,
                        r.distinct_id,
                        r.session_id,
                        orjson.dumps(r.properties).decode(),
                    )
                    for r in records
                ],
            )
        conn.execute(
            "INSERT INTO person_aliases (project_id, distinct_id, person)"
            " SELECT %s, key, value FROM jsonb_each_text(%s::jsonb)",
            (world.project, orjson.dumps(ALIASES).decode()),
        )


@pytest.fixture(scope="module")
def world(module_world: World, services: Any) -> tuple[World, list[EventRecord]]:
    w = module_world
    records = truth.generate(w.project, LOAD_START, LOAD_DAYS, 5000, users=150, seed=5)
    records += [
        record(w.project, "view", LOGIN, "anon-7"),
        record(w.project, "pay", LOGIN + timedelta(minutes=3), "known-7"),
        record(w.project, "view", LOGIN, "dup-1"),
        record(w.project, "pay", LOGIN + timedelta(minutes=5), "dup-1"),
        record(w.project, "view", LOGIN, "bot-only-1"),
    ]
    asyncio.run(fill(w, records, services))
    # A bot's row with the same (distinct_id, ts, event) as a person's, and one alone.
    flagged = {"$bot": True}
    crawlers = [
        record(w.project, "pay", LOGIN + timedelta(minutes=5), "dup-1", properties=flagged),
        record(w.project, "pay", LOGIN + timedelta(minutes=6), "bot-only-1", properties=flagged),
    ]
    crawlers += bots(w.project)
    store_raw(w, crawlers)
    return w, records + crawlers


def span(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": (end - timedelta(milliseconds=1)).isoformat()}


async def ask(client: Any, w: World, document: dict[str, Any]) -> dict[str, Any]:
    body = {"projectId": "alpha", **document}
    response = await client.post("/api/query", json=body, cookies={"ra_session": w.cookie})
    answer = await response.json()
    assert response.status == 200, answer
    assert_matches_spec(answer)
    return answer


# A range starting mid-day (its first period clipped), across the DST change, and one of
# whole weeks and months.
RANGES = [
    ("day", "UTC", datetime(2026, 10, 20, 10, 30, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC)),
    (
        "day",
        "America/New_York",
        datetime(2026, 10, 25, 4, tzinfo=UTC),
        datetime(2026, 11, 8, 5, tzinfo=UTC),
    ),
    (
        "week",
        "America/New_York",
        datetime(2026, 10, 5, 4, tzinfo=UTC),
        datetime(2026, 11, 9, 5, tzinfo=UTC),
    ),
    (
        "month",
        "Asia/Kolkata",
        datetime(2026, 10, 3, tzinfo=UTC),
        datetime(2026, 11, 10, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(("interval", "zone", "start", "end"), RANGES)
@pytest.mark.parametrize("include_bots", [False, True])
async def test_retention_matches_brute_force(
    world, client, interval, zone, start, end, include_bots
):
    w, records = world
    for first, back in [("$pageview", "purchase"), ("signup", "signup")]:
        answer = await ask(
            client,
            w,
            {
                "type": "retention",
                "startEvent": first,
                "returnEvent": back,
                "interval": interval,
                "timezone": zone,
                "dateRange": span(start, end),
                "includeBots": include_bots,
            },
        )
        expected = person_truth.retention(
            records, ALIASES, first, back, start, end, interval, zone, include_bots
        )
        assert answer["cohorts"] == expected
        assert sum(c["size"] for c in expected) > 0 and any(sum(c["returned"]) for c in expected)
        # The load tells merged persons and bots apart: ignoring either changes the answer.
        args = (first, back, start, end, interval, zone)
        assert expected != person_truth.retention(records, {}, *args, include_bots)
        assert expected != person_truth.retention(records, ALIASES, *args, not include_bots)
        meta = answer["meta"]
        assert (meta["source"], meta["uniqueBy"]) == ("raw", "person")
        assert meta["bots"] == ("included" if include_bots else "excluded")


@pytest.mark.parametrize(("interval", "zone", "start", "end"), RANGES)
@pytest.mark.parametrize("include_bots", [False, True])
async def test_lifecycle_matches_brute_force(
    world, client, interval, zone, start, end, include_bots
):
    w, records = world
    answer = await ask(
        client,
        w,
        {
            "type": "lifecycle",
            "event": "signup",
            "interval": interval,
            "timezone": zone,
            "dateRange": span(start, end),
            "includeBots": include_bots,
        },
    )
    expected = person_truth.lifecycle(
        records, ALIASES, "signup", start, end, interval, zone, include_bots
    )
    assert answer["data"] == expected
    args = ("signup", start, end, interval, zone)
    assert expected != person_truth.lifecycle(records, {}, *args, include_bots)
    assert expected != person_truth.lifecycle(records, ALIASES, *args, not include_bots)
    if interval == "day":  # every state occurs in a day series (a month's two do not)
        for state in ("new", "returning", "resurrecting", "dormant"):
            assert any(p[state] for p in expected), state
    assert answer["meta"]["uniqueBy"] == "person"


@pytest.mark.parametrize(
    ("direction", "steps", "limit"), [("next", 3, 2), ("previous", 4, 1), ("next", 5, 20)]
)
@pytest.mark.parametrize("include_bots", [False, True])
async def test_paths_match_brute_force(world, client, direction, steps, limit, include_bots):
    w, records = world
    start, end = datetime(2026, 10, 10, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)
    answer = await ask(
        client,
        w,
        {
            "type": "paths",
            "startEvent": "signup",
            "direction": direction,
            "steps": steps,
            "limit": limit,
            "dateRange": span(start, end),
            "includeBots": include_bots,
        },
    )
    expected = person_truth.paths(
        records, ALIASES, "signup", direction, steps, limit, start, end, include_bots
    )
    assert person_truth.answered_paths(answer) == expected
    args = ("signup", direction, steps, limit, start, end)
    assert expected != person_truth.paths(records, {}, *args, include_bots)
    assert expected != person_truth.paths(records, ALIASES, *args, not include_bots)
    nodes = answer["nodes"]
    assert nodes[0] == {
        "step": 0,
        "event": "signup",
        "other": False,
        "persons": nodes[0]["persons"],
    }
    assert max(n["step"] for n in nodes) == steps
    assert any(n["other"] for n in nodes) == (limit < 3)
    assert answer["meta"]["uniqueBy"] == "person"


def metric(
    records: list[EventRecord], event: str, start: datetime, end: datetime, **how: Any
) -> tuple[int, int]:
    """(events, persons) of ``event`` in the range; ``how``: aliases, include_bots."""
    rows = [
        r
        for r in person_truth.kept(records, how.get("include_bots", False))
        if r.event == event and start <= r.timestamp < end
    ]
    return len(rows), len({person_truth.person(r, how.get("aliases", {})) for r in rows})


async def test_raw_reads_leave_bots_out_unless_included(world, client):
    """Before: a query the rollups cannot answer read the raw rows, bots' included."""
    w, records = world
    start, end = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC)
    raw_only = {"key": "$pathname", "op": "contains", "value": "/"}  # rollups cannot
    for include_bots in (False, True):
        for metric_name, index in (("count", 0), ("unique_users", 1)):
            answer = await ask(
                client,
                w,
                {
                    "type": "metric",
                    "event": "$pageview",
                    "metric": metric_name,
                    "dateRange": span(start, end),
                    "filter": raw_only,
                    "includeBots": include_bots,
                },
            )
            expected = metric(
                records, "$pageview", start, end, aliases=ALIASES, include_bots=include_bots
            )
            assert answer["value"] == expected[index], (metric_name, include_bots)
            assert answer["meta"]["source"] == "raw"
            assert answer["meta"]["uniqueBy"] == ("person" if index else None)


async def test_include_bots_reads_raw_where_a_rollup_would_answer(world, client):
    w, records = world
    start, end = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC)
    document = {
        "type": "metric",
        "event": "$pageview",
        "metric": "unique_users",
        "dateRange": span(start, end),
    }
    by_rollup = await ask(client, w, document)
    assert by_rollup["meta"]["source"] == "rollup"
    assert by_rollup["meta"]["uniqueBy"] == "distinctId"
    assert by_rollup["meta"]["bots"] == "excluded"
    # Rollups count ids (sketches, exact at this size), never bots.
    assert by_rollup["value"] == metric(records, "$pageview", start, end)[1]
    with_bots = await ask(client, w, {**document, "includeBots": True})
    assert with_bots["meta"]["source"] == "raw"
    assert with_bots["meta"]["uniqueBy"] == "person"
    assert with_bots["meta"]["bots"] == "included"
    expected = metric(records, "$pageview", start, end, aliases=ALIASES, include_bots=True)
    assert with_bots["value"] == expected[1]
    series = await ask(
        client,
        w,
        {**document, "type": "timeseries", "interval": "day", "includeBots": True},
    )
    assert series["meta"]["source"] == "raw"
    assert sum(p["value"] for p in series["data"]) >= expected[1]


async def test_a_person_converts_across_login_and_a_bots_row_does_not_convert(world, client):
    """anon-7 views, logs in as known-7 and pays; dup-1's pay has a bot's twin row (same
    id, instant and event: it stays); bot-only-1's only pay is a bot's."""
    w, _ = world
    document = {
        "type": "funnel",
        "steps": [{"event": "view"}, {"event": "pay"}],
        "dateRange": span(LOGIN - timedelta(hours=1), LOGIN + timedelta(hours=1)),
    }
    answer = await ask(client, w, document)
    assert [s["users"] for s in answer["steps"]] == [3, 2]
    assert answer["meta"]["uniqueBy"] == "person"
    answer = await ask(client, w, {**document, "includeBots": True})
    assert [s["users"] for s in answer["steps"]] == [3, 3]
    # With a filter the rows are read, and bots left out row by row: the same answer.
    anything = {"key": "nothing", "op": "is_not_set"}
    answer = await ask(client, w, {**document, "filter": anything})
    assert [s["users"] for s in answer["steps"]] == [3, 2]


@pytest.mark.parametrize("include_bots", [False, True])
@pytest.mark.parametrize("filtered", [False, True])
async def test_random_funnels_count_persons_without_bots(world, client, include_bots, filtered):
    w, records = world
    start, end = datetime(2026, 10, 6, tzinfo=UTC), datetime(2026, 10, 16, tzinfo=UTC)
    events = ["$pageview", "signup", "purchase"]
    window = timedelta(hours=12)
    document: dict[str, Any] = {
        "type": "funnel",
        "steps": [{"event": e} for e in events],
        "dateRange": span(start, end),
        "conversionWindow": {"value": 12, "unit": "hour"},
        "includeBots": include_bots,
    }
    if filtered:
        document["filter"] = {"key": "plan", "op": "neq", "value": "enterprise"}
    answer = await ask(client, w, document)
    keep = (lambda r: r.properties.get("plan") != "enterprise") if filtered else (lambda r: True)
    persons = [
        dataclasses.replace(r, distinct_id=person_truth.person(r, ALIASES))
        for r in person_truth.kept(records, include_bots)
        if keep(r)
    ]
    expected = truth.funnel(persons, [(e, lambda r: True) for e in events], start, end, window)
    assert [s["users"] for s in answer["steps"]] == expected
    by_id = truth.funnel(
        [r for r in person_truth.kept(records, include_bots) if keep(r)],
        [(e, lambda r: True) for e in events],
        start,
        end,
        window,
    )
    assert by_id != expected  # the load tells persons from ids


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            {"type": "retention", "startEvent": "a", "returnEvent": "b", "interval": "day"},
            "dateRange",
        ),
        ({"type": "lifecycle", "event": "a", "interval": "day"}, "dateRange"),
        ({"type": "paths", "startEvent": "a", "steps": 6}, "steps"),
        ({"type": "paths", "startEvent": "a", "limit": 21}, "limit"),
        ({"type": "paths", "startEvent": "a", "direction": "sideways"}, "direction"),
        ({"type": "metric", "event": "a", "includeBots": "yes"}, "includeBots"),
        ({"type": "metric", "event": "a", "includeBots": 1}, "includeBots"),
    ],
)
async def test_out_of_bounds_is_a_400_naming_the_field(world, client, document, field):
    w, _ = world
    body = {
        "projectId": "alpha",
        "dateRange": span(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC)),
        **document,
    }
    response = await client.post("/api/query", json=body, cookies={"ra_session": w.cookie})
    answer = await response.json()
    assert response.status == 400, answer
    assert_matches_spec(answer, 400)
    assert [d["field"] for d in answer["details"]] == [field]
