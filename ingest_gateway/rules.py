"""What a project's deployed config asks of the gateway: allowed browser origins and, in
strict mode, its tracking plan. Pure functions over the compiled config
(``contracts.config``); ``ProjectRules`` holds the latest version per project."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.control import ConfigDeployed

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "any": lambda v: True,
}


@dataclass(frozen=True, slots=True)
class Rules:
    version: int
    allowed_origins: frozenset[str]
    strict: bool
    plan: dict[str, Any]

    def origin_allowed(self, origin: str | None) -> bool:
        """Requests without an Origin (servers, curl) always pass; [] allows every origin."""
        return origin is None or not self.allowed_origins or origin in self.allowed_origins


def rules_from(message: ConfigDeployed) -> Rules:
    plan = message.config.get("trackingPlan") or {}
    return Rules(
        version=message.version,
        allowed_origins=frozenset(message.config.get("allowedOrigins") or ()),
        strict=plan.get("mode") == "strict",
        plan=plan.get("events") or {},
    )


def plan_violations(events: list[dict[str, Any]], rules: Rules) -> list[dict[str, Any]]:
    """Contract ``details`` for events a strict tracking plan refuses."""
    if not rules.strict:
        return []
    details: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        spec = rules.plan.get(event["event"])
        if spec is None:
            details.append(
                {"index": index, "field": "event", "message": "Not in the tracking plan."}
            )
            continue
        declared: dict[str, str] = spec.get("properties") or {}
        properties = event["properties"]
        for key in spec.get("required") or ():
            if key not in properties:
                details.append(
                    {"index": index, "field": f"properties.{key}", "message": "Required."}
                )
        for key, kind in declared.items():
            if key in properties and not _TYPE_CHECKS[kind](properties[key]):
                details.append(
                    {"index": index, "field": f"properties.{key}", "message": f"Must be {kind}."}
                )
    return details


class ProjectRules:
    """Latest deployed rules per project, fed by the control topic."""

    def __init__(self) -> None:
        self._rules: dict[str, Rules] = {}

    def get(self, project_id: str) -> Rules | None:
        return self._rules.get(project_id)

    def apply(self, message: ConfigDeployed) -> bool:
        held = self._rules.get(message.project_id)
        if held is not None and held.version >= message.version:
            return False
        self._rules[message.project_id] = rules_from(message)
        return True
