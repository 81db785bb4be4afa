"""``realanalytics.yaml`` → the compiled JSON config, validated with the shared schema.

The YAML may use snake_case (``tracking_plan``, ``breakdown_keys``, ``allowed_origins``,
``retention_days``) or the JSON names; ``project`` names the project (slug or id)::

    project: shop
    tracking_plan:
      mode: strict
      events:
        signup_completed:
          properties: {plan: string}
          required: [plan]
    breakdown_keys: [plan, $pathname]
    allowed_origins: [https://shop.example]
    retention_days: 90
"""

import difflib
import json
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from contracts.config import config_too_large, load_config
from contracts.validation import flatten_messages

_RENAMES = {
    "tracking_plan": "trackingPlan",
    "breakdown_keys": "breakdownKeys",
    "allowed_origins": "allowedOrigins",
    "retention_days": "retentionDays",
}


class ConfigFileError(ValueError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a mapping naming a key twice is an error: by default the
    second silently replaces the first (an event's whole definition, say)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears more than once", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_config_text(text: str, name: str = "the config") -> tuple[str | None, dict[str, Any]]:
    """``(project, config)`` from the YAML text; ``ConfigFileError`` names every problem."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{name} is not valid YAML: {exc}") from exc
    return compile_config(document)


def compile_config(document: Any) -> tuple[str | None, dict[str, Any]]:
    """``(project, config)`` from the parsed YAML; ``ConfigFileError`` names every problem."""
    if not isinstance(document, dict):
        raise ConfigFileError("the file must hold a YAML mapping")
    project = document.get("project")
    if project is not None and not isinstance(project, str):
        raise ConfigFileError("project: must be a slug or an id")
    raw = {_RENAMES.get(str(k), str(k)): v for k, v in document.items() if k != "project"}
    try:
        config = load_config(raw)
    except ValidationError as exc:
        problems = flatten_messages(exc.messages)
        lines = [f"{p['field'] or 'config'}: {p['message']}" for p in problems]
        raise ConfigFileError("; ".join(lines)) from exc
    too_large = config_too_large(config)
    if too_large is not None:
        raise ConfigFileError(too_large)
    return project, config


def read_config_file(path: Path) -> tuple[str | None, dict[str, Any]]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path} is not UTF-8 text") from exc
    return parse_config_text(text, str(path))


def config_diff(deployed: dict[str, Any] | None, new: dict[str, Any], label: str) -> str:
    """A unified diff of the two configs as sorted, indented JSON ('' when equal)."""
    before = [] if deployed is None else _lines(deployed)
    after = _lines(new)
    return "".join(difflib.unified_diff(before, after, "deployed", label))


def _lines(config: dict[str, Any]) -> list[str]:
    return [line + "\n" for line in json.dumps(config, indent=2, sort_keys=True).splitlines()]
