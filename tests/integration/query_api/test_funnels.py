"""Funnels over the raw store: order, window, repeats, re-entry, filters; against brute force."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from contracts.events import EventRecord
from query_api.funnels import FUNNEL_SETTINGS, funnel_answer, funnel_statement, slice_bounds
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS
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


async def random_funnel(world, client, events, window):  # type: ignore[no-untyped-def]
    """The answer for ``events`` over the random load's two days, with the project's
    records, the steps, and the range, to compute the expected answer from."""
    w, records = world
    start, end = RANDOM_START, RANDOM_START + timedelta(days=2)
    mine = [r for r in records if r.project_id == w.project]
    steps = [(e, lambda r: True) for e in events]
    document = funnel(
        [{"event": e} for e in events],
        start,
        end,
        {"value": int(window.total_seconds()), "unit": "second"},
    )
    return await ask(client, w, document), (mine, steps, start, end, window)


@pytest.mark.parametrize(
    ("events", "window"),
    [
        (["$pageview", "signup", "purchase"], timedelta(hours=1)),
        (["$pageview", "$pageview", "purchase"], timedelta(hours=3)),
        (["signup", "purchase", "signup", "$pageview"], timedelta(days=1)),
    ],
)
async def test_random_load_matches_brute_force(world, client, events, window):
    answer, load = await random_funnel(world, client, events, window)
    expected = truth.funnel(*load)
    assert [s["users"] for s in answer["steps"]] == expected
    assert expected[-1] > 0


def same_seconds(answer: dict[str, Any], expected: list[float | None]) -> bool:
    medians = [s["medianSecondsToConvert"] for s in answer["steps"][1:]]
    return len(medians) == len(expected) and all(
        (m is None and e is None) or (m is not None and e is not None and abs(m - e) < 1e-3)
        for m, e in zip(medians, expected, strict=True)
    )


@pytest.mark.parametrize(
    ("events", "window"),
    [
        (["$pageview", "signup", "purchase"], timedelta(hours=1)),
        (["$pageview", "$pageview", "purchase"], timedelta(hours=3)),
        (["signup", "purchase", "signup", "$pageview"], timedelta(days=1)),
        (["purchase", "$pageview"], timedelta(minutes=30)),
    ],
)
async def test_medians_are_those_of_each_users_best_chain(world, client, events, window):
    answer, load = await random_funnel(world, client, events, window)
    assert [s["users"] for s in answer["steps"]] == truth.funnel(*load)
    expected = truth.funnel_medians(*load)
    assert expected[-1] is not None
    assert same_seconds(answer, expected), (answer, expected)


# Planner settings that force each shape the statement can run in; the answer may not
# depend on it: branches in parallel workers, or every slice sorted instead of read from
# the per-user index.
PLANS: dict[str, list[tuple[str, str]]] = {
    "as planned": [],
    "parallel": [
        ("parallel_setup_cost", "0"),
        ("parallel_tuple_cost", "0"),
        ("min_parallel_table_scan_size", "0"),
        ("min_parallel_index_scan_size", "0"),
    ],
    "sorted": [("enable_indexscan", "off"), ("enable_indexonlyscan", "off")],
}


@pytest.mark.parametrize("plan", sorted(PLANS))
async def test_any_slices_and_plan_give_the_same_answer(world, plan):
    w, records = world
    mine = [r for r in records if r.project_id == w.project]
    ids = sorted({r.distinct_id for r in mine})
    cases = [
        (RANDOM_START, RANDOM_START + timedelta(days=2), timedelta(hours=3)),
        (T0 - timedelta(hours=1), T0 + timedelta(hours=5), timedelta(hours=1)),
    ]
    events = ["$pageview", "signup", "purchase"]
    steps = [(e, lambda r: True) for e in events]
    async with await psycopg.AsyncConnection.connect(w.database, autocommit=True) as conn:
        for start, end, window in cases:
            q = parse_query(
                funnel(
                    [{"event": e} for e in events],
                    start,
                    end,
                    {"value": int(window.total_seconds()), "unit": "second"},
                ),
                DEFAULT_MAX_RANGE_SECONDS,
            )
            expected = truth.funnel(mine, steps, start, end, window)
            medians = truth.funnel_medians(mine, steps, start, end, window)
            sampled = await slice_bounds(conn, w.project, q, 3)
            # A bound that is a user's own id ("u5", "repeats") puts that user in the
            # later slice only; "" and "zzz" leave one slice empty.
            splits = [[], [ids[len(ids) // 2]], ids[::40][1:], ["u5"], ["repeats"]]
            for bounds in [*splits, [""], ["zzz"], sampled]:
                sql, params = funnel_statement(q, w.project, bounds)
                async with conn.transaction():
                    forced = [*FUNNEL_SETTINGS, ("max_parallel_workers_per_gather", "2")]
                    for name, value in forced + PLANS[plan]:
                        await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
                    shape = await conn.execute("EXPLAIN " + sql, params)
                    text = "\n".join(r[0] for r in await shape.fetchall())
                    row = await (await conn.execute(sql, params)).fetchone()
                if plan == "parallel" and bounds:
                    assert "Parallel Append" in text, text
                if plan == "sorted":
                    assert "Index Only Scan" not in text, text
                answer = funnel_answer(q, row)
                assert [s["users"] for s in answer["steps"]] == expected, bounds
                assert same_seconds(answer, medians), (bounds, answer, medians)
