"""The log scanner finds what must never be logged (keys, tokens, passwords, payloads),
and a run whose logs hold one fails."""

from collections.abc import Callable
from pathlib import Path

import pytest

from contracts.api_keys import KeyKind, generate_key, key_hint
from contracts.sessions import ACCESS_TOKEN_PREFIX, LOGIN_TOKEN_PREFIX, new_token
from control_plane.accounts import CONFIRM_PREFIX, RESET_PREFIX
from control_plane.invitations import INVITE_PREFIX
from tests.support.logscan import Finding, SecretsSeen, log_files, report, scan_files, scan_text
from tests.support.testlogs import LOG_DIR_VARIABLE, runs_to_prune, service_log, start_run

REPO = Path(__file__).resolve().parents[2]
LINE = "2026-12-07 10:00:00,000 WARNING ingest_gateway.ingest "


@pytest.mark.parametrize(
    ("secret", "what"),
    [
        (generate_key(KeyKind.PUBLIC), "public key"),
        (generate_key(KeyKind.SECRET), "secret key"),
        (new_token(ACCESS_TOKEN_PREFIX), "CLI access token"),
        (new_token(LOGIN_TOKEN_PREFIX), "CLI login token"),
        (new_token(CONFIRM_PREFIX), "confirmation code"),
        (new_token(RESET_PREFIX), "password reset code"),
        (new_token(INVITE_PREFIX), "invitation code"),
        ("Cookie: ra_session=" + new_token(), "session cookie"),
        ("$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA", "password hash"),
    ],
)
def test_every_credential_the_stack_issues_is_found_by_its_shape(secret: str, what: str) -> None:
    text = f"{LINE}started\n{LINE}refused {secret!r} for project 1\n"
    assert scan_text(text) == [(2, what)]


def test_what_may_be_shown_of_a_key_is_not_a_finding() -> None:
    key = generate_key(KeyKind.SECRET)
    text = f"{LINE}invalid key {key_hint(key)}; ra_session cookie missing; sk_live_ prefix\n"
    assert scan_text(text) == []


def test_a_registered_password_or_payload_marker_is_found_under_its_label() -> None:
    seen = SecretsSeen()
    password = seen.register("correct horse battery", "password")
    marker = seen.register("marker-3f9c1b7e", "payload marker")
    text = (
        f"{LINE}login failed\n"
        f"Traceback (most recent call last):\n  ValueError: {{'plan': '{marker}'}}\n"
        f"{LINE}user said {password}\n"
    )
    assert scan_text(text, seen.labels()) == [
        (3, "registered payload marker"),
        (4, "registered password"),
    ]


def test_a_value_too_short_to_search_for_is_refused() -> None:
    with pytest.raises(ValueError, match="by chance"):
        SecretsSeen().register("abc", "password")


def test_a_planted_leak_in_a_log_file_is_reported_without_its_value(tmp_path: Path) -> None:
    key = generate_key(KeyKind.PUBLIC)
    (tmp_path / "worker").mkdir()
    clean = tmp_path / "gateway.log"
    clean.write_text(f"{LINE}serving\n")
    leaky = tmp_path / "worker" / "w1.log"
    leaky.write_bytes(b"\xff\xfe not utf-8\n" + f"{LINE}record {key}\n".encode())
    findings = scan_files(log_files(tmp_path))
    assert [(f.path, f.line, f.what) for f in findings] == [(leaky, 2, "public key")]
    assert key not in report(findings)
    assert f"{leaky}:2: public key" in report(findings)


def test_a_long_report_is_cut() -> None:
    leaks = "".join(f"{generate_key(KeyKind.PUBLIC)}\n" for _ in range(30))
    assert report_of(leaks).endswith("… and 10 more")


def report_of(text: str) -> str:
    return report(Finding(Path("x.log"), line, what) for line, what in scan_text(text))


def test_old_idle_runs_are_pruned_but_never_a_recent_or_active_one() -> None:
    now = 1_000_000.0
    day = 24 * 3600
    runs = {
        Path("20261201-100000-1"): now - 9 * day,  # old and idle: pruned
        Path("20261202-100000-2"): now - 60,  # old but still writing (a long session)
        Path("20261203-100000-3"): now - 8 * day,
        Path("20261204-100000-4"): now - 7 * day,
    }
    assert runs_to_prune(runs, now, keep=2) == [Path("20261201-100000-1")]


def test_service_logs_go_to_the_configured_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOG_DIR_VARIABLE, str(tmp_path / "run"))
    assert start_run(tmp_path / "unused") == tmp_path / "run"
    first, second = service_log("ingest_gateway"), service_log("ingest_gateway")
    assert first.parent == second.parent == tmp_path / "run" and first != second
    assert first.name.startswith("ingest_gateway-") and first.suffix == ".log"


INNER_TEST = """
import logging

from tests.support.testlogs import service_log


def test_a_service_that_logs(secrets_seen):
    logging.getLogger("ingest_gateway.ingest").info("append ok for project 7")
    secrets_seen.register("hunter2-hunter2", "password")
    service_log("ingest_gateway").write_text(LOGGED)
"""


@pytest.fixture
def run_inner_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[str], pytest.RunResult]:
    """A whole pytest session with this suite's conftest, whose test writes what it is
    given as a service's log, into a directory of its own (``tmp_path/logs``; a planted
    leak in this run's directory would fail this run)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv(LOG_DIR_VARIABLE, str(tmp_path / "logs"))

    def run(logged: str) -> pytest.RunResult:
        pytester.makepyfile(f"LOGGED = {logged!r}\n" + INNER_TEST)
        return pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider")

    return run


def test_a_run_whose_logs_hold_a_key_fails_and_says_where(
    run_inner_session: Callable[[str], pytest.RunResult],
) -> None:
    key = generate_key(KeyKind.SECRET)
    result = run_inner_session(f"{LINE}deploy with {key}\n")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*secrets in the run's logs*", "*ingest_gateway-*.log:1: secret key"]
    )
    assert key not in result.stdout.str()


def test_a_run_whose_logs_hold_a_registered_password_fails(
    run_inner_session: Callable[[str], pytest.RunResult],
) -> None:
    result = run_inner_session(f"{LINE}login hunter2-hunter2\n")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*ingest_gateway-*.log:1: registered password"])


def test_a_clean_run_passes_and_its_own_logging_is_in_the_run_directory(
    run_inner_session: Callable[[str], pytest.RunResult], tmp_path: Path
) -> None:
    result = run_inner_session(f"{LINE}serving\n")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    [own] = (tmp_path / "logs").glob("pytest-*.log")
    assert "INFO ingest_gateway.ingest append ok for project 7" in own.read_text()
