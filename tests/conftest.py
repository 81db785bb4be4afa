"""Suite-wide pytest set-up: the real-server fixtures, the markers that gate them, and the
end-of-run scan of every log for keys and payloads."""

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.logscan import Finding, SecretsSeen, log_files, report, scan_files
from tests.support.testlogs import LOG_DIR_VARIABLE, start_run

# pytester: the fixtures' own tests run small inner sessions with them.
pytest_plugins = ["pytester", "tests.fixtures.services"]

MARKERS = {
    "integration": "talks to the real PostgreSQL, Redis and Kafka started by scripts/services.sh",
    "e2e": "runs whole processes against the real services",
}

# RA_* variables configure the services; a caller's (say, the demo's .local/demo.env
# sourced to try the stack) must not reach the tests or the processes they start. Tests
# set what they rely on. Kept: where the Kafka jars are cached, a machine setting.
KEPT_VARIABLES = frozenset({"RA_CACHE_DIR", LOG_DIR_VARIABLE})


def clear_service_variables() -> None:
    for name in [n for n in os.environ if n.startswith("RA_") and n not in KEPT_VARIABLES]:
        del os.environ[name]


def pytest_configure(config: pytest.Config) -> None:
    clear_service_variables()
    # pyproject.toml registers these too; registering whatever it lacks keeps
    # --strict-markers working when the suite runs with another ini file.
    registered = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, description in MARKERS.items():
        if name not in registered:
            config.addinivalue_line("markers", f"{name}: {description}")
    config.stash[SECRETS] = SecretsSeen()
    config.stash[LOG_DIR] = start_run()


# --- never a key or a payload in a log: every log of the run is scanned at the end ------

SECRETS = pytest.StashKey[SecretsSeen]()
LOG_DIR = pytest.StashKey[Path]()
FINDINGS = pytest.StashKey[list[Finding]]()
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # as the services' __main__


@pytest.fixture(scope="session")
def secrets_seen(pytestconfig: pytest.Config) -> SecretsSeen:
    """Register here what a test hands to a service that has no key shape (a password, a
    session id, a payload marker): the end-of-run scan fails the run if a log holds it."""
    return pytestconfig.stash[SECRETS]


@pytest.fixture(scope="session", autouse=True)
def log_to_run_dir(pytestconfig: pytest.Config) -> Iterator[None]:
    """The in-process apps (aiohttp test servers, sinks, relays) log through this
    process's logging: into the run's directory too, at the services' level (INFO)."""
    log = pytestconfig.stash[LOG_DIR] / f"pytest-{os.getpid()}.log"
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root, access = logging.getLogger(), logging.getLogger("aiohttp.access")
    levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(min(root.level, logging.INFO))
    # The services run without an access log (access_log=None); test servers have one,
    # whose line a request would be at INFO: kept as quiet as the services'.
    access.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(levels[0])
        access.setLevel(levels[1])


def known_secrets(config: pytest.Config) -> dict[str, str]:
    known = config.stash[SECRETS].labels()
    # The account tests' one password, when they ran (their conftest imported): a module
    # constant no fixture of theirs registers.
    accounts = sys.modules.get("tests.integration.control_plane.conftest")
    if accounts is not None:
        known[accounts.PASSWORD] = "test password"
    return known


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when any log of it holds a key, a token or a registered secret."""
    config = session.config
    if LOG_DIR not in config.stash:
        return
    findings = scan_files(log_files(config.stash[LOG_DIR]), known_secrets(config))
    config.stash[FINDINGS] = findings
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    findings = terminalreporter.config.stash.get(FINDINGS, [])
    directory = terminalreporter.config.stash.get(LOG_DIR, None)
    if findings:
        terminalreporter.section("secrets in the run's logs", sep="=", red=True, bold=True)
        terminalreporter.line(report(findings))
        terminalreporter.line(f"(logs of this run: {directory})")
