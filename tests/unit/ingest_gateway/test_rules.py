from typing import Any

import pytest

from contracts.control import ConfigDeployed
from ingest_gateway.rules import ProjectRules, plan_violations, rules_from

PLAN = {
    "mode": "strict",
    "events": {
        "signup_completed": {
            "properties": {"plan": "string", "seats": "integer"},
            "required": ["plan"],
        },
        "$pageview": {},
    },
}


def deployed(version: int = 1, **config: Any) -> ConfigDeployed:
    return ConfigDeployed(project_id="p1", version=version, config=config)


def event(name: str, **properties: Any) -> dict[str, Any]:
    return {"event": name, "properties": properties}


def test_strict_plan_refuses_unknown_events_missing_and_mistyped_properties() -> None:
    rules = rules_from(deployed(trackingPlan=PLAN))
    details, total = plan_violations(
        [
            event("signup_completed", plan="pro", seats=3, extra=True),
            event("checkout"),
            event("signup_completed", seats="three"),
            event("$pageview", anything=1),
        ],
        rules,
    )
    assert details == [
        {"index": 1, "field": "event", "message": "Not in the tracking plan."},
        {"index": 2, "field": "properties.plan", "message": "Required."},
        {"index": 2, "field": "properties.seats", "message": "Must be integer."},
    ]
    assert total == 3


def test_booleans_are_not_numbers() -> None:
    plan = {"mode": "strict", "events": {"e": {"properties": {"n": "number"}}}}
    assert plan_violations([event("e", n=True)], rules_from(deployed(trackingPlan=plan))).total
    assert not plan_violations([event("e", n=1.5)], rules_from(deployed(trackingPlan=plan))).total


def test_lenient_plan_accepts_everything() -> None:
    rules = rules_from(deployed(trackingPlan={**PLAN, "mode": "lenient"}))
    assert plan_violations([event("checkout")], rules) == ([], 0)


def test_origins() -> None:
    rules = rules_from(deployed(allowedOrigins=["https://shop.example"]))
    assert rules.origin_allowed("https://shop.example")
    assert rules.origin_allowed(None)  # servers and curl send no Origin
    assert not rules.origin_allowed("https://evil.example")
    assert rules_from(deployed(allowedOrigins=[])).origin_allowed("https://any.example")


def test_only_newer_versions_replace_the_rules() -> None:
    held = ProjectRules()
    assert held.apply(deployed(2, allowedOrigins=["https://a.example"]))
    assert not held.apply(deployed(1, allowedOrigins=["https://b.example"]))
    assert not held.apply(deployed(2))
    rules = held.get("p1")
    assert rules is not None and rules.allowed_origins == {"https://a.example"}
    assert held.get("other") is None


def test_a_required_property_listed_many_times_counts_once() -> None:
    plan = {
        "mode": "strict",
        "events": {"e": {"properties": {"a": "string"}, "required": ["a"] * 5000}},
    }
    details, total = plan_violations([event("e")] * 3, rules_from(deployed(trackingPlan=plan)))
    assert total == 3
    assert [d["index"] for d in details] == [0, 1, 2]


def test_details_stop_at_the_limit_but_every_problem_is_counted() -> None:
    required = [f"p{i}" for i in range(3000)]
    plan = {
        "mode": "strict",
        "events": {"e": {"properties": dict.fromkeys(required, "string"), "required": required}},
    }
    details, total = plan_violations(
        [event("e", p0=1)] * 100, rules_from(deployed(trackingPlan=plan)), limit=100
    )
    assert total == 100 * 3000  # p0 is present (2,999 missing) but not a string
    assert len(details) == 100
    assert details[0] == {"index": 0, "field": "properties.p1", "message": "Required."}


@pytest.mark.parametrize(
    "config",
    [
        {"trackingPlan": "strict"},
        {"trackingPlan": {"mode": "strict", "events": ["e"]}},
        {"trackingPlan": {"mode": "strict", "events": {"e": "x"}}},
        {"trackingPlan": {"mode": "strict", "events": {"e": {"required": 5, "properties": 3}}}},
        {"trackingPlan": {"mode": "strict", "events": {"e": {"required": [1, None, "a"]}}}},
        {"trackingPlan": {"mode": "strict", "events": {"e": {"properties": {"a": "nope"}}}}},
        {"allowedOrigins": "https://shop.example"},
        {"allowedOrigins": [1, {"a": 2}]},
    ],
)
def test_a_config_of_any_shape_loads_and_never_raises_on_events(config: dict[str, Any]) -> None:
    rules = rules_from(deployed(**config))
    plan_violations([event("e", a=1), event("other")], rules)
    assert rules.origin_allowed(None)
