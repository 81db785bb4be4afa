"""What a project's deployed config asks of the gateway: allowed browser origins and, in
strict mode, its tracking plan. Pure functions over the compiled config
(``contracts.config``); ``ProjectRules`` holds the latest version per project.

The control plane validates configs before it publishes them, but the gateway takes any
config it reads as it comes: a part of the wrong shape is ignored (never an exception in
the control-topic follower, never a 500), a required property listed many times counts
once, and a refused request costs work in its own size, not the plan's.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from contracts.control import ConfigDeployed
from ingest_gateway.errors import MAX_DETAILS
from ingest_gateway.limits import property_field

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event of a tracking plan: required keys (each once, in plan order) and types."""

    required: tuple[str, ...] = ()
    required_set: frozenset[str] = frozenset()
    types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rules:
    version: int
    allowed_origins: frozenset[str]
    strict: bool
    plan: dict[str, EventSpec]

    def origin_allowed(self, origin: str | None) -> bool:
        """Requests without an Origin (servers, curl) always pass; [] allows every origin."""
        return origin is None or not self.allowed_origins or origin in self.allowed_origins


class Violations(NamedTuple):
    details: list[dict[str, Any]]  # the first ``limit``
    total: int


def rules_from(message: ConfigDeployed) -> Rules:
    config = message.config
    plan = _mapping(config.get("trackingPlan"))
    events = _mapping(plan.get("events"))
    return Rules(
        version=message.version,
        allowed_origins=frozenset(_strings(config.get("allowedOrigins"))),
        strict=plan.get("mode") == "strict",
        plan={name: _event_spec(spec) for name, spec in events.items() if isinstance(name, str)},
    )


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> Iterable[str]:
    return (v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _event_spec(spec: Any) -> EventSpec:
    spec = _mapping(spec)
    required = tuple(dict.fromkeys(_strings(spec.get("required"))))
    types = {
        key: kind
        for key, kind in _mapping(spec.get("properties")).items()
        if isinstance(key, str) and kind in _TYPE_CHECKS  # unknown kinds: "any"
    }
    return EventSpec(required=required, required_set=frozenset(required), types=types)


def plan_violations(
    events: list[dict[str, Any]], rules: Rules, limit: int = MAX_DETAILS
) -> Violations:
    """Contract ``details`` (the first ``limit``) for events a strict tracking plan refuses,
    and how many there are in all. Work per event is bounded by its own properties (at most
    100), whatever the size of the plan."""
    details: list[dict[str, Any]] = []
    total = 0
    if not rules.strict:
        return Violations(details, total)

    def add(index: int, field: str, message: str) -> None:
        if len(details) < limit:
            details.append({"index": index, "field": field, "message": message})

    for index, event in enumerate(events):
        spec = rules.plan.get(event["event"])
        if spec is None:
            total += 1
            add(index, "event", "Not in the tracking plan.")
            continue
        properties: dict[str, Any] = event["properties"]
        present = sum(1 for key in properties if key in spec.required_set)
        missing = len(spec.required) - present
        total += missing
        if missing and len(details) < limit:
            for key in spec.required:
                if key not in properties:
                    add(index, property_field(key), "Required.")
                    if len(details) >= limit:
                        break
        for key, value in properties.items():
            kind = spec.types.get(key)
            if kind is not None and not _TYPE_CHECKS[kind](value):
                total += 1
                add(index, property_field(key), f"Must be {kind}.")
    return Violations(details, total)


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
