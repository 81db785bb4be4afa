"""Funnels over the raw store: order, window, repeats, re-entry, filters; against brute force."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.events import EventRecord
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import World, fill
from tests.integration.query_api.openapi_check import assert_matches_spec
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
RANDOM_START = datetime(2026, 6, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def crafted(project: str) -> list[EventRecord]:
    def ev(user: str, event: str, minutes: float, **props: Any) -> EventRecord:
        return record(project, event, at(minutes), user, properties=props)

    return [
        ev("in-order", "view", 0),
        ev("in-order", "signup", 5),
        ev("in-order", "pay", 9),
        ev("wrong-order", "pay", 0),
        ev("wrong-order", "signup", 1),
        ev("wrong-order", "view", 2),
        ev("too-slow", "view", 0),
        ev("too-slow", "signup", 30),
        ev("too-slow", "pay", 61),
        ev("same-instant", "view", 0),
        ev("same-instant", "signup", 0),
        ev("same-instant", "pay", 1),
        # Entered twice: the first entry stalls, the second completes within its window.
        ev("twice", "view", 0),
        ev("twice", "signup", 10),
        ev("twice", "view", 100),
        ev("twice", "signup", 110),
        ev("twice", "pay", 120),
        # Repeated events: many views and signups, one pay late for the first view only.
        ev("repeats", "view", 0),
        ev("repeats", "view", 1),
        ev("repeats", "view", 2),
        ev("repeats", "signup", 3),
        ev("repeats", "signup", 4),
        ev("repeats", "pay", 59),
        ev("filtered", "view", 0, plan="free"),
        ev("filtered", "signup", 1),
        ev("filtered", "pay", 2),
    ]


@pytest.fixture(scope="module")
def world(module_world: World, services: Any) -> tuple[World, list[EventRecord]]:
    records = crafted(module_world.project)
    records += truth.generate(module_world.project, RANDOM_START, 2, 1500, users=120, seed=9)
    records += crafted(module_world.other)
    asyncio.run(fill(module_world, records, services))
    return module_world, records


def funnel(
    steps: list[dict[str, Any]], start: datetime, end: datetime, window: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "funnel",
        "projectId": "alpha",
        "dateRange": {
            "start": start.isoformat(),
            "end": (end - timedelta(milliseconds=1)).isoformat(),
        },
        "steps": steps,
        "conversionWindow": window,
    }


async def ask(client: Any, w: World, document: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/query", json=document, cookies={"ra_session": w.cookie})
    answer = await response.json()
    assert response.status == 200, answer
    assert_matches_spec(answer)
    assert answer["meta"]["source"] == "raw"
    return answer


async def test_order_window_repeats_and_reentry(world, client):
    w, _ = world
    steps = [{"event": "view"}, {"event": "signup"}, {"event": "pay"}]
    answer = await ask(
        client,
        w,
        funnel(
            steps, T0 - timedelta(hours=1), T0 + timedelta(hours=5), {"value": 1, "unit": "hour"}
        ),
    )
    # view: all 7; signup: not wrong-order (before the view), not same-instant (not
    # strictly later); pay: in-order, twice (second entry), repeats (59 min from the first
    # view), filtered; not too-slow (61 min after its view).
    assert [s["users"] for s in answer["steps"]] == [7, 5, 4]
    assert answer["steps"][1]["conversionFromFirst"] == pytest.approx(5 / 7)
    assert answer["steps"][2]["conversionFromPrevious"] == pytest.approx(4 / 5)
    assert answer["steps"][0]["medianSecondsToConvert"] is None
    assert answer["steps"][2]["medianSecondsToConvert"] is not None


async def test_step_filters_and_a_shorter_window(world, client):
    w, _ = world
    steps = [
        {"event": "view", "filter": {"key": "plan", "op": "eq", "value": "free"}},
        {"event": "signup"},
        {"event": "pay"},
    ]
    answer = await ask(
        client,
        w,
        funnel(
            steps, T0 - timedelta(hours=1), T0 + timedelta(hours=5), {"value": 1, "unit": "hour"}
        ),
    )
    assert [s["users"] for s in answer["steps"]] == [1, 1, 1]
    steps = [{"event": "view"}, {"event": "signup"}]
    answer = await ask(
        client,
        w,
        funnel(
            steps, T0 - timedelta(hours=1), T0 + timedelta(hours=5), {"value": 4, "unit": "minute"}
        ),
    )
    # Within 4 minutes only repeats and filtered sign up. Times to convert are those of a
    # user's earliest best chain: repeats 0 → 3 min (180 s), filtered 60 s.
    assert [s["users"] for s in answer["steps"]] == [7, 2]
    assert answer["steps"][1]["medianSecondsToConvert"] == 120.0


@pytest.mark.parametrize(
    ("events", "window"),
    [
        (["$pageview", "signup", "purchase"], timedelta(hours=1)),
        (["$pageview", "$pageview", "purchase"], timedelta(hours=3)),
        (["signup", "purchase", "signup", "$pageview"], timedelta(days=1)),
    ],
)
async def test_random_load_matches_brute_force(world, client, events, window):
    w, records = world
    start, end = RANDOM_START, RANDOM_START + timedelta(days=2)
    mine = [r for r in records if r.project_id == w.project]
    expected = truth.funnel(mine, [(e, lambda r: True) for e in events], start, end, window)
    document = funnel(
        [{"event": e} for e in events],
        start,
        end,
        {"value": int(window.total_seconds()), "unit": "second"},
    )
    answer = await ask(client, w, document)
    assert [s["users"] for s in answer["steps"]] == expected
    assert expected[-1] > 0
