"""The CLI's pure parts and its offline behaviour: YAML compile, diff, tables, credentials."""

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from control_plane import cli
from control_plane.cli.client import (
    Credentials,
    error_line,
    load_credentials,
    origin_of,
    save_credentials,
)
from control_plane.cli.output import query_table, table
from control_plane.config_file import ConfigFileError, compile_config, config_diff

YAML_DOC = {
    "project": "shop",
    "tracking_plan": {"mode": "strict", "events": {"signup": {"properties": {"plan": "string"}}}},
    "breakdown_keys": ["plan"],
    "allowed_origins": ["https://shop.example"],
    "retention_days": 90,
}


def test_yaml_compiles_to_the_complete_json_config() -> None:
    project, config = compile_config(YAML_DOC)
    assert project == "shop"
    assert config == {
        "trackingPlan": {
            "mode": "strict",
            "events": {"signup": {"properties": {"plan": "string"}, "required": []}},
        },
        "breakdownKeys": ["plan"],
        "allowedOrigins": ["https://shop.example"],
        "retentionDays": 90,
    }
    assert compile_config({"breakdownKeys": ["a"]}) == (
        None,
        compile_config({"breakdown_keys": ["a"]})[1],
    )


def test_invalid_yaml_configs_are_one_line() -> None:
    with pytest.raises(ConfigFileError) as caught:
        compile_config({"retention_days": 0, "breakdown_keys": "plan", "colour": "blue"})
    message = str(caught.value)
    assert "\n" not in message
    assert "retentionDays" in message and "breakdownKeys" in message and "colour" in message
    with pytest.raises(ConfigFileError):
        compile_config(["a list"])
    with pytest.raises(ConfigFileError):
        compile_config({"project": 12})


def test_diff_shows_only_what_changes() -> None:
    _, old = compile_config({"retention_days": 30})
    _, new = compile_config({"retention_days": 90})
    diff = config_diff(old, new, "realanalytics.yaml")
    assert '-  "retentionDays": 30' in diff and '+  "retentionDays": 90' in diff
    assert config_diff(new, new, "x") == ""
    assert config_diff(None, new, "x").count("\n+") >= 5


def test_tables() -> None:
    assert table(["a", "bb"], [(1, None), ("long", 2)]) == "a     bb\n----  --\n1\nlong  2"
    timeseries = {"type": "timeseries", "data": [{"t": "2026-02-01T00:00:00+00:00", "value": 3}]}
    assert "2026-02-01T00:00:00+00:00  3" in query_table(timeseries)
    breakdown = {
        "type": "breakdown",
        "breakdown": "$pathname",
        "data": [{"key": "/", "value": 5}, {"key": None, "value": 1}],
        "other": 2,
    }
    text = query_table(breakdown)
    assert "(none)" in text and "(other)    2" in text and text.startswith("$pathname")
    funnel = {
        "type": "funnel",
        "steps": [
            {"event": "a", "users": 10, "conversionFromFirst": 1.0, "conversionFromPrevious": 1.0},
            {"event": "b", "users": 5, "conversionFromFirst": 0.5, "conversionFromPrevious": 0.5},
        ],
    }
    assert "50.0%" in query_table(funnel)
    assert query_table({"type": "metric", "value": 3, "previous": 1}).endswith("3      1")


def test_error_lines() -> None:
    assert error_line(401, {"error": "Invalid secret key"}) == "Invalid secret key"
    body = {"error": "Validation failed", "details": [{"field": "slug", "message": "bad"}]}
    assert error_line(400, body) == "Validation failed (slug: bad)"
    assert error_line(502, None) == "HTTP 502"
    assert origin_of("http://127.0.0.1:8081/some/path") == "http://127.0.0.1:8081"


def test_credentials_are_written_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_CLI_CONFIG_DIR", str(tmp_path / "cfg"))
    path = save_credentials(Credentials("http://app", "ra_cli_x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    save_credentials(Credentials("http://app", "ra_cli_y"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials() == Credentials("http://app", "ra_cli_y")


def test_commands_fail_with_one_line_and_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RA_CLI_CONFIG_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(cli.main, ["projects", "list"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: not logged in: run `realanalytics login`"

    save_credentials(Credentials("http://127.0.0.1:9", "ra_cli_x"))  # nothing listens on 9
    result = runner.invoke(cli.main, ["projects", "list"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach the App API at http://127.0.0.1:9")
    assert len(result.output.strip().splitlines()) == 1

    bad = tmp_path / "realanalytics.yaml"
    bad.write_text("project: shop\nretention_days: -1\n")
    result = runner.invoke(cli.main, ["deploy", str(bad)])
    assert result.exit_code == 1
    assert "retentionDays" in result.output and len(result.output.strip().splitlines()) == 1

    monkeypatch.setattr("control_plane.cli.streams.importlib.util.find_spec", lambda name: None)
    result = runner.invoke(cli.main, ["lag"])
    assert result.exit_code == 1
    assert "stream_workers not found" in result.output


class FakeDeletions:
    """The App API's deletion endpoints: pending, then running, then done."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.statuses = ["running", "done"]

    def request(self, method: str, path: str, body: object = None, **_: object) -> tuple[int, dict]:  # type: ignore[type-arg]
        self.calls.append((method, path, body))
        if method == "POST":
            return 202, {"id": "d1", "status": "pending", "events": 0}
        status = self.statuses.pop(0)
        return 200, {"id": "d1", "status": status, "events": 12 if status == "done" else 3}


def test_delete_person_waits_until_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_CLI_CONFIG_DIR", str(tmp_path))
    save_credentials(Credentials("http://app", "ra_cli_x"))
    fake = FakeDeletions()
    monkeypatch.setattr(cli.Context, "client", lambda self: fake)
    monkeypatch.setattr("control_plane.cli.deletions.time.sleep", lambda _: None)
    result = CliRunner().invoke(cli.main, ["delete-person", "--project", "shop", "u1", "u2"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["Deletion d1: pending", "Done: 12 events deleted"]
    assert fake.calls[0] == ("POST", "/api/projects/shop/deletions", {"distinctIds": ["u1", "u2"]})
    assert [c[1] for c in fake.calls[1:]] == ["/api/projects/shop/deletions/d1"] * 2


def test_delete_person_refuses_more_than_a_request_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RA_CLI_CONFIG_DIR", str(tmp_path))
    save_credentials(Credentials("http://app", "ra_cli_x"))
    ids = [f"u{n}" for n in range(1001)]
    result = CliRunner().invoke(cli.main, ["delete-person", "--project", "shop", *ids])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: at most 1000 distinct ids at a time"
