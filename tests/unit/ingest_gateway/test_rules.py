from typing import Any

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
    details = plan_violations(
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


def test_booleans_are_not_numbers() -> None:
    plan = {"mode": "strict", "events": {"e": {"properties": {"n": "number"}}}}
    assert plan_violations([event("e", n=True)], rules_from(deployed(trackingPlan=plan)))
    assert not plan_violations([event("e", n=1.5)], rules_from(deployed(trackingPlan=plan)))


def test_lenient_plan_accepts_everything() -> None:
    rules = rules_from(deployed(trackingPlan={**PLAN, "mode": "lenient"}))
    assert plan_violations([event("checkout")], rules) == []


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
