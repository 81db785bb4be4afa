"""Timeseries, breakdown and metric answers: from rollups, from raw, and as expected.

The events are applied by the stream workers' own sink; the expected answers come from
the generated events in Python (truth.py). Rollup answers go through HTTP; the raw store
is asked directly with the same parsed query.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from query_api import answers
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import World, fill
from tests.integration.query_api.openapi_check import assert_matches_spec

pytestmark = pytest.mark.integration

FALL = datetime(2026, 10, 29, tzinfo=UTC)  # New York falls back on 1 November 2026
SPRING = datetime(2026, 3, 6, tzinfo=UTC)  # New York springs forward on 8 March 2026
MS = timedelta(milliseconds=1)


@pytest.fixture(scope="module")
def world(module_world: World, services: Any) -> tuple[World, list[Any]]:
    import asyncio

    records = truth.generate(module_world.project, FALL, 7, 4000, seed=1)
    records += truth.generate(module_world.project, SPRING, 4, 1500, seed=2)
    other = truth.generate(module_world.other, FALL, 7, 300, seed=3)
    asyncio.run(fill(module_world, records + other, services))
    return module_world, records


def local(day: datetime, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def body(kind: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "projectId": "alpha",
        "dateRange": {"start": start.isoformat(), "end": end.isoformat()},
        **extra,
    }


async def ask(client: Any, world: World, document: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/query", json=document, cookies={"ra_session": world.cookie})
    answer = await response.json()
    assert response.status == 200, answer
    assert_matches_spec(answer)
    return answer


async def raw(world: World, document: dict[str, Any]) -> dict[str, Any]:
    q = parse_query(document, DEFAULT_MAX_RANGE_SECONDS)
    async with await psycopg.AsyncConnection.connect(world.database, autocommit=True) as conn:
        if document["type"] == "timeseries":
            answer, _ = await answers.timeseries(conn, world.project, q, force_raw=True)  # type: ignore[arg-type]
        elif document["type"] == "breakdown":
            answer, _ = await answers.breakdown(conn, world.project, q, force_raw=True)  # type: ignore[arg-type]
        else:
            answer, _ = await answers.metric(conn, world.project, q, force_raw=True)  # type: ignore[arg-type]
    return answer


SERIES = [
    # (timezone, interval, first local day, days, metric)
    ("UTC", "hour", FALL, 3, "count"),
    ("America/New_York", "hour", datetime(2026, 10, 31), 3, "unique_users"),
    ("America/New_York", "day", FALL, 7, "count"),
    ("America/New_York", "hour", datetime(2026, 3, 7), 3, "count"),
    ("America/New_York", "day", SPRING, 4, "sessions"),
    ("Asia/Kolkata", "hour", datetime(2026, 10, 30), 2, "count"),
    ("Asia/Kolkata", "day", FALL, 6, "unique_users"),
    ("Asia/Kathmandu", "day", FALL, 6, "count"),
    ("UTC", "week", datetime(2026, 10, 1), 61, "count"),
    ("Asia/Kolkata", "month", datetime(2026, 2, 1), 300, "unique_users"),
]


@pytest.mark.parametrize(("zone", "interval", "day", "days", "metric"), SERIES)
async def test_timeseries_rollup_equals_raw_equals_expected(
    world, client, zone, interval, day, days, metric
):
    w, records = world
    start, end = local(day, zone), local(day + timedelta(days=days), zone)
    document = body(
        "timeseries",
        start,
        end - MS,
        event="$pageview",
        interval=interval,
        timezone=zone,
        metric=metric,
    )
    expected = truth.timeseries(records, "$pageview", start, end, interval, zone, metric)
    answer = await ask(client, w, document)
    assert answer["meta"]["source"] == "rollup"
    assert answer["data"] == expected
    assert (await raw(w, document))["data"] == expected


@pytest.mark.parametrize(
    ("interval", "zone", "metric"),
    [
        ("minute", "UTC", "count"),
        ("hour", "Asia/Kolkata", "unique_users"),
        ("day", "UTC", "sessions"),
    ],
)
async def test_edges_inside_a_minute_add_raw_slivers_to_rollups(
    world, client, interval, zone, metric
):
    w, records = world
    start = datetime(2026, 10, 30, 10, 0, 30, 250000, tzinfo=UTC)
    end = datetime(2026, 10, 31, 12, 45, 10, 500000, tzinfo=UTC)  # a "last N hours" now
    if interval == "minute":
        end = start + timedelta(hours=3, seconds=7)
    document = body(
        "timeseries",
        start,
        end - MS,
        event="signup",
        interval=interval,
        timezone=zone,
        metric=metric,
    )
    answer = await ask(client, w, document)
    assert (answer["meta"]["source"], answer["meta"]["rawEdges"]) == ("rollup", True)
    expected = truth.timeseries(records, "signup", start, end, interval, zone, metric)
    assert answer["data"] == expected
    assert (await raw(w, document))["data"] == expected
    document = body(
        "metric",
        start,
        end - MS,
        event="$pageview",
        metric=metric,
        filter={"key": "$browser", "op": "eq", "value": "Safari"},
    )
    answer = await ask(client, w, document)
    assert answer["meta"]["rawEdges"] is True
    keep = lambda r: r.properties.get("$browser") == "Safari"  # noqa: E731
    previous = start - (end - start)
    assert (answer["value"], answer["previous"]) == (
        truth.measure(truth.selected(records, "$pageview", start, end, keep), metric),
        truth.measure(truth.selected(records, "$pageview", previous, start, keep), metric),
    )


FILTERS = [
    (
        {"key": "$pathname", "op": "eq", "value": "/pricing"},
        "rollup",
        lambda r: r.properties.get("$pathname") == "/pricing",
    ),
    ({"key": "$browser", "op": "is_not_set"}, "rollup", lambda r: "$browser" not in r.properties),
    (
        {"key": "$browser", "op": "not_in", "value": ["Chrome", "Safari"]},
        "rollup",
        lambda r: r.properties.get("$browser") not in ("Chrome", "Safari"),
    ),
    (
        {"key": "$pathname", "op": "contains", "value": "PRIC"},
        "raw",
        lambda r: "pric" in r.properties["$pathname"],
    ),
    ({"key": "amount", "op": "gte", "value": 50}, "raw", lambda r: r.properties["amount"] >= 50),
    (
        {"key": "plan", "op": "eq", "value": "pro"},
        "raw",
        lambda r: r.properties.get("plan") == "pro",
    ),
    (
        {"key": "plan", "op": "neq", "value": "pro"},
        "raw",
        lambda r: r.properties.get("plan") != "pro",
    ),
    (
        {"key": "amount", "op": "in", "value": [1, 2, 3]},
        "raw",
        lambda r: r.properties["amount"] in (1, 2, 3),
    ),
]


@pytest.mark.parametrize(("condition", "source", "keep"), FILTERS)
async def test_filtered_series_and_metric(world, client, condition, source, keep):
    w, records = world
    start, end = FALL, FALL + timedelta(days=2)
    document = body(
        "timeseries", start, end - MS, event="$pageview", interval="day", filter=condition
    )
    answer = await ask(client, w, document)
    assert answer["meta"]["source"] == source
    expected = truth.timeseries(records, "$pageview", start, end, "day", "UTC", "count", keep)
    assert answer["data"] == expected
    document = body(
        "metric",
        start + timedelta(days=1),
        end - MS,
        event="$pageview",
        metric="unique_users",
        filters=[condition],
    )
    answer = await ask(client, w, document)
    value = truth.measure(
        truth.selected(records, "$pageview", start + timedelta(days=1), end, keep), "unique_users"
    )
    previous = truth.measure(
        truth.selected(records, "$pageview", start, start + timedelta(days=1), keep), "unique_users"
    )
    assert (answer["value"], answer["previous"]) == (value, previous)
    assert (await raw(w, document))["value"] == value


@pytest.mark.parametrize(
    ("key", "limit", "metric", "source"),
    [
        ("$pathname", 3, "count", "rollup"),
        ("$browser", 2, "unique_users", "rollup"),
        ("$pathname", 10, "sessions", "rollup"),
        ("plan", 2, "count", "raw"),
        ("amount", 5, "unique_users", "raw"),
    ],
)
async def test_breakdown_top_values_and_other(world, client, key, limit, metric, source):
    w, records = world
    start, end = FALL + timedelta(hours=6), FALL + timedelta(days=4)
    document = body(
        "breakdown", start, end - MS, event="$pageview", breakdown=key, limit=limit, metric=metric
    )
    answer = await ask(client, w, document)
    assert answer["meta"]["source"] == source
    expected = truth.breakdown(records, "$pageview", start, end, key, limit, metric)
    assert {"data": answer["data"], "other": answer["other"]} == expected
    from_raw = await raw(w, document)
    assert {"data": from_raw["data"], "other": from_raw["other"]} == expected


async def test_breakdown_filtered_on_its_own_key_stays_on_rollups(world, client):
    w, records = world
    start, end = FALL, FALL + timedelta(days=7)
    condition = {"key": "$browser", "op": "is_set"}
    document = body(
        "breakdown", start, end - MS, event="signup", breakdown="$browser", filter=condition
    )
    answer = await ask(client, w, document)
    assert answer["meta"]["source"] == "rollup"
    expected = truth.breakdown(
        records, "signup", start, end, "$browser", 10, "count", lambda r: "$browser" in r.properties
    )
    assert {"data": answer["data"], "other": answer["other"]} == expected
    assert all(row["key"] is not None for row in answer["data"])


async def test_metric_with_previous_period(world, client):
    w, records = world
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
    for metric in ("count", "unique_users", "sessions"):
        document = body("metric", start, end - MS, event="purchase", metric=metric)
        answer = await ask(client, w, document)
        assert answer["meta"]["source"] == "rollup"
        value = truth.measure(
            truth.selected(records, "purchase", start, end, lambda r: True), metric
        )
        previous = truth.measure(
            truth.selected(records, "purchase", start - (end - start), start, lambda r: True),
            metric,
        )
        assert (answer["value"], answer["previous"]) == (value, previous)
        assert (await raw(w, document))["previous"] == previous


async def test_meta_says_how_fresh(world, client):
    w, _ = world
    answer = await ask(client, w, body("metric", FALL, FALL + timedelta(days=1), event="signup"))
    freshness = answer["meta"]["freshness"]
    assert freshness["partitions"] == 3
    assert freshness["watermark"] is not None
    assert 0 <= freshness["secondsBehind"] < 600
