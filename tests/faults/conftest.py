"""The fault suite's fixtures: its own server set and the verdicts, and the table printed
at the end of the session (and written to the run's log directory)."""

from collections.abc import Callable

import pytest

from tests.faults.judgement import Verdict
from tests.faults.servers import Servers
from tests.faults.table import table
from tests.support.testlogs import run_log_dir

VERDICTS = pytest.StashKey[list[Verdict]]()


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
