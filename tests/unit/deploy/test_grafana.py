"""The Grafana dashboard in deploy/grafana loads as Grafana expects: unique panel ids,
panels that do not overlap, and every query on the provisioned Prometheus datasource."""

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "realanalytics.json"


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    pos = panel["gridPos"]
    return {
        (x, y)
        for x in range(pos["x"], pos["x"] + pos["w"])
        for y in range(pos["y"], pos["y"] + pos["h"])
    }


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = load()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        assert all(0 <= x < 24 for x, _ in cells(panel)), panel["title"]
        assert not cells(panel) & taken, panel["title"]
        taken |= cells(panel)


def test_every_query_uses_the_prometheus_datasource_variable() -> None:
    dashboard = load()
    (variable,) = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    graphs = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert graphs
    for panel in graphs:
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            ref = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
            assert target["datasource"] == ref, panel["title"]
