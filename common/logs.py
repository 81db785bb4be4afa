"""One logging set-up for every process, and a cap on a library's repeated lines.

While Kafka is away, aiokafka logs the same two errors for every reconnect attempt of every
connection ("Unable connect to node ...", "Unable to update metadata ..."): about 6,000
lines in a 10 s outage of one gateway, which bury the lines an operator needs and fill the
disk for nothing. ``RepeatFilter`` lets a (logger, level, message template) through once
per window and drops its repeats; the next line of that kind after the window says how
many were dropped, so the count is never lost. Only the libraries in ``QUIETED`` are
filtered: the services' own lines stay one per event.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
QUIETED = ("aiokafka",)  # logger-name prefixes whose repeats are capped
WINDOW_SECONDS = 10.0


@dataclass
class Window:
    started: float
    dropped: int = 0


def admit(window: Window | None, now: float, length: float) -> tuple[bool, int]:
    """Whether a line of a kind is logged at ``now``, given that kind's current window, and
    how many of its repeats were dropped before it (reported with it)."""
    if window is None:
        return True, 0
    if now - window.started >= length:
        return True, window.dropped
    return False, 0


class RepeatFilter(logging.Filter):
    """Logs each kind of line once per ``window_seconds``; the first after a window carries
    the count of the ones dropped in it. Thread-safe (Faust's consumer thread logs too)."""

    def __init__(
        self, window_seconds: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window_seconds = window_seconds
        self.clock = clock
        self._windows: dict[tuple[str, int, str], Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        with self._lock:
            now = self.clock()
            window = self._windows.get(key)
            logged, dropped = admit(window, now, self.window_seconds)
            if not logged:
                assert window is not None
                window.dropped += 1
                return False
            if dropped:
                assert window is not None
                record.msg = (
                    f"{record.getMessage()} ({dropped} more like this in the last"
                    f" {now - window.started:.0f} s not logged)"
                )
                record.args = ()  # a tuple: Faust's formatter wraps anything else in one
            self._windows[key] = Window(now)
        return True


def quiet_repeats(
    prefixes: Iterable[str] = QUIETED, window_seconds: float = WINDOW_SECONDS
) -> None:
    """Caps repeated lines of the loggers under ``prefixes`` (those that exist now: import
    the library first; a logger's filter does not apply to its children's records)."""
    prefixes = tuple(prefixes)
    shared = RepeatFilter(window_seconds)
    names = [name for name in list(logging.root.manager.loggerDict) if name.startswith(prefixes)]
    for name in {*prefixes, *names}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(shared)


def configure(level: int = logging.INFO, fmt: str = FORMAT) -> None:
    """The services' logging: one line per record on stderr, library repeats capped."""
    import aiokafka
    import aiokafka.admin  # noqa: F401

    logging.basicConfig(level=level, format=fmt)
    quiet_repeats()
