"""The fault suite's fixtures: its own server set, a fresh stack per fault, the verdicts,
and the table printed at the end of the session (and written to the run's log directory).

``FAULTS=long`` (what ``make faults`` sets) takes the long outages; without it each fault
runs once with a short one, as CI does. Not an RA_* variable: those configure the services
and the suite clears them (tests/conftest.py)."""

import os
from collections.abc import Callable

import pytest

from tests.faults.judgement import Verdict
from tests.faults.servers import Servers
from tests.faults.table import table
from tests.support.testlogs import run_log_dir

LONG = os.environ.get("FAULTS") == "long"
VERDICTS = pytest.StashKey[list[Verdict]]()


def outage_seconds(short: float, long: float) -> float:
    return long if LONG else short


@pytest.fixture(scope="session")
def servers() -> Servers:
    return Servers.start()


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[str], Verdict]:
    """A new row of the table for this test (kept even when the test then fails)."""

    def make(fault: str) -> Verdict:
        row = Verdict(fault)
        request.config.stash.setdefault(VERDICTS, []).append(row)
        return row

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    verdicts = terminalreporter.config.stash.get(VERDICTS, [])
    if not verdicts:
        return
    text = table(verdicts)
    terminalreporter.section("faults: what each one cost", sep="=")
    terminalreporter.line(text)
    path = run_log_dir() / "faults.md"
    path.write_text(text + "\n")
    terminalreporter.line(f"(also in {path})")
