"""Metric names: those a PromQL expression reads, and those a /metrics page exposes.

Used to prove that the Grafana dashboard and the Prometheus rules in deploy/ read only
metrics the services really expose: a renamed metric would otherwise leave an empty
panel and an alert that can never fire, silently.
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")  # label matchers (strings already removed)
_RANGES = re.compile(r"\[[^\]]*\]")  # range and subquery selectors
# Label lists: by (...), without (...), on (...), ignoring (...), group_left (...).
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
# Numbers and durations first (so `5m`, `1e3` and `0.5` are not names), Grafana's
# variables (`$__rate_interval`), then names.
_TOKENS = re.compile(
    r"(?P<number>\d[\w.]*)|(?P<variable>\$\w+)|(?P<name>[A-Za-z_:][\w:]*)(?P<call>\s*\()?"
)
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan"}
)
_SUFFIXES = {
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "counter": ("_created",),
}


def promql_metric_names(expression: str) -> set[str]:
    """The metric names an expression selects (functions, keywords and labels left out)."""
    text = _STRINGS.sub(" ", expression)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for token in _TOKENS.finditer(text):
        name = token.group("name")
        if name and not token.group("call") and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def exposed_metric_names(page: str) -> set[str]:
    """Every name a Prometheus text page makes selectable: its families (from HELP/TYPE,
    present even before a labelled metric has a sample), their derived series
    (``_bucket``, ``_sum``, ``_count``…) and the samples' own names."""
    names: set[str] = set()
    for line in page.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
            names.add(parts[2])
            if parts[1] == "TYPE" and len(parts) >= 4:
                names.update(parts[2] + suffix for suffix in _SUFFIXES.get(parts[3], ()))
        elif parts and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """The PromQL of every panel's targets, rows' nested panels included."""
    return [
        target["expr"]
        for panel in _panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def rule_expressions(rules: dict[str, Any]) -> list[str]:
    """The ``expr`` of every alerting and recording rule of a Prometheus rules file."""
    return [rule["expr"] for group in rules.get("groups", []) for rule in group["rules"]]
