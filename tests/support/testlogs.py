"""Where a test run's logs go: one directory a run, so that they can be read together and
scanned for keys and payloads at the end (tests/conftest.py, tests/support/logscan.py).

Every process a test starts writes its output to ``service_log(name)``, and the pytest
process's own logging goes there too. The directory is ``$RA_TEST_LOG_DIR`` when set (a
CI job that keeps it), else a new ``.local/test-logs/<time>-<pid>``; the last few runs'
directories are kept for reading after a failure.
"""

import os
import shutil
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

LOG_DIR_VARIABLE = "RA_TEST_LOG_DIR"
RUNS_ROOT = Path(__file__).resolve().parents[2] / ".local" / "test-logs"
RUNS_KEPT = 5
IDLE = 24 * 3600.0


def new_run_dir(root: Path = RUNS_ROOT, now: datetime | None = None) -> Path:
    moment = now or datetime.now(UTC)
    directory = root / f"{moment:%Y%m%d-%H%M%S}-{os.getpid()}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def runs_to_prune(
    activity: Mapping[Path, float], now: float, keep: int = RUNS_KEPT, idle: float = IDLE
) -> list[Path]:
    """The run directories past the ``keep`` newest (by name, which sorts by start time)
    that nothing wrote to for ``idle`` seconds: several sessions may run at once in one
    checkout, and a long one's directory must outlive the short ones started after it."""
    newest_first = sorted(activity, key=lambda path: path.name, reverse=True)
    return [path for path in newest_first[keep:] if now - activity[path] > idle]


def last_written(directory: Path) -> float:
    """When the directory or one of its files last changed; now, if it is changing under
    us (another session pruning it)."""
    try:
        return max([directory.stat().st_mtime, *(p.stat().st_mtime for p in directory.iterdir())])
    except FileNotFoundError:
        return time.time()


def start_run(root: Path = RUNS_ROOT) -> Path:
    """This run's log directory, made and published in the environment (processes the
    tests start, and pytest sessions they run, log into the same one); old runs pruned."""
    configured = os.environ.get(LOG_DIR_VARIABLE)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    if root.is_dir():
        runs = {path: last_written(path) for path in root.iterdir() if path.is_dir()}
        for old in runs_to_prune(runs, time.time(), RUNS_KEPT - 1):
            shutil.rmtree(old, ignore_errors=True)
    directory = new_run_dir(root)
    os.environ[LOG_DIR_VARIABLE] = str(directory)
    return directory


def run_log_dir() -> Path:
    """The current run's log directory (started on first use outside a pytest session)."""
    configured = os.environ.get(LOG_DIR_VARIABLE)
    return Path(configured) if configured else start_run()


def service_log(name: str) -> Path:
    """A new file in this run's log directory for one process's output, named after it."""
    directory = run_log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}-{uuid.uuid4().hex[:8]}.log"
