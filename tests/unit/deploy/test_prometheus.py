"""The Prometheus files in deploy/prometheus: valid for promtool, the alerts fire on the
synthetic series of alerts_test.yml, and every runbook link lands on a docs section.

promtool comes from Debian's `prometheus` package, which `make system` installs; these
tests skip, saying so, only where it cannot be installed (no root).
"""

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "deploy" / "prometheus"
OPERATIONS = REPO / "docs" / "operations.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = require_tool("promtool", "prometheus")
    return subprocess.run(
        [exe, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_alerting_rules_are_valid() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_scrape_config_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_fire_on_synthetic_series() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    }


def test_every_alert_has_a_summary_and_a_runbook_section() -> None:
    rules: dict[str, Any] = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    sections = anchors(OPERATIONS.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    assert alerts
    for alert in alerts:
        notes = alert["annotations"]
        assert notes["summary"], alert["alert"]
        page, _, anchor = notes["runbook"].partition("#")
        assert page == "docs/operations.md", alert["alert"]
        assert anchor in sections, (alert["alert"], anchor)


def test_the_scrape_config_names_the_compose_services() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    scraped = {
        name
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    assert scraped == {"ingest_gateway", "stream_workers", "stream_workers_overflow", "app_api"}
    assert scraped <= compose["services"].keys()
