"""One logging set-up for every process: JSON lines (structlog), the request id on every
line of a request, and a cap on a library's repeated lines.

Every module logs through the standard library (``logging.getLogger(__name__)``, as the
libraries do); structlog's ``ProcessorFormatter`` renders each record, ours and theirs, as
one JSON object: ``timestamp`` (UTC), ``level``, ``logger``, ``event`` (the message),
``request_id`` when the line belongs to a request (bound by ``common.request_ids`` in a
context variable, so it follows the request's task), any ``extra={...}`` fields, and the
traceback as ``exception``. ``RA_LOG_FORMAT=text`` gives the same fields as aligned text
for a terminal. Lines never carry a key or a payload: they name ids, counts and positions.

While Kafka is away, aiokafka logs the same two errors for every reconnect attempt of every
connection ("Unable connect to node ...", "Unable to update metadata ..."): about 6,000
lines in a 10 s outage of one gateway, which bury the lines an operator needs and fill the
disk for nothing. ``RepeatFilter`` lets a (logger, level, message template) through once
per window and drops its repeats; the next line of that kind after the window says how
many were dropped, so the count is never lost. Only the libraries in ``QUIETED`` are
filtered: the services' own lines stay one per event.
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

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


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_wanted(environ: dict[str, str] | None = None) -> bool:
    """JSON lines unless ``RA_LOG_FORMAT=text``."""
    return (environ if environ is not None else os.environ).get("RA_LOG_FORMAT", "json") != "text"


def formatter(as_json: bool = True) -> logging.Formatter:
    """The formatter of every service's log lines (see the module's docstring)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.dict_tracebacks
            if as_json
            else structlog.processors.format_exc_info,
            renderer,
        ],
    )


def json_formatter() -> logging.Formatter:
    """For ``logging.config.dictConfig``'s ``"()"`` (Faust's worker configures logging so)."""
    return formatter(json_wanted())


def logging_config(level: int = logging.INFO) -> dict[str, Any]:
    """The same set-up as a ``dictConfig`` dictionary: Faust's worker applies its own
    logging config at start, replacing whatever was there, unless given this one."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ra": {"()": "common.logs.json_formatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "ra"}},
        "root": {"level": logging.getLevelName(level), "handlers": ["default"]},
    }


def configure(level: int = logging.INFO) -> None:
    """The services' logging: one line per record on stderr, library repeats capped."""
    import aiokafka
    import aiokafka.admin  # noqa: F401

    handler = logging.StreamHandler()
    handler.setFormatter(formatter(json_wanted()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    quiet_repeats()
