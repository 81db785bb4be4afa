"""What a client does after each answer, and the counters it keeps: shared by both clients.

``Ledger.settle`` turns one ``Decision`` about one batch into the next step (done, retry
after a delay, or split), updating the counters and the over-quota pause. It does no I/O
and reads the time only through its arguments, so it is tested without a server.
"""

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from realanalytics_sdk.encoding import decode_fragments
from realanalytics_sdk.policy import Action, Decision, backoff_delay, next_month_start

logger = logging.getLogger("realanalytics_sdk")

Fragment = bytes  # one event, encoded (see encoding.py)
ErrorCallback = Callable[[str, Sequence[dict[str, Any]]], None]


@dataclass(frozen=True, slots=True)
class Stats:
    """What happened to the events a client was given, for monitoring.

    ``dropped``: refused by ``track`` because the queue was full (or the client closed).
    ``discarded``: taken, then given up on: refused by the gateway (400/401/413 of a single
    event), over the monthly limit, or still failing after every retry.
    """

    queued: int
    sent: int
    dropped: int
    discarded: int
    paused_until: datetime | None


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float


@dataclass(frozen=True, slots=True)
class Split:
    parts: tuple[list[Fragment], ...]


Step = Done | Retry | Split


class Ledger:
    def __init__(self, max_retries: int, on_error: ErrorCallback | None = None) -> None:
        self.max_retries = max_retries
        self.sent = 0
        self.dropped = 0
        self.discarded = 0
        self.paused_until: datetime | None = None
        self._on_error = on_error
        self._lock = threading.Lock()
        self._logged: set[str] = set()

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held) and counters."""
        self._lock = threading.Lock()
        self.sent = self.dropped = self.discarded = 0

    def paused(self, now: datetime) -> bool:
        """True while the project is over its monthly limit (until the next month, UTC)."""
        if self.paused_until is None:
            return False
        if now >= self.paused_until:
            self.paused_until = None
            return False
        return True

    def settle(
        self,
        part: list[Fragment],
        decision: Decision,
        attempt: int,
        now: datetime,
        rand: Callable[[], float] | None = None,
    ) -> Step:
        """The next step for ``part`` after its ``attempt``-th send (0 for the first)."""
        action = decision.action
        if action is Action.SENT:
            with self._lock:
                self.sent += len(part)
            return Done()
        if action is Action.RETRY and attempt < self.max_retries:
            rand = rand or random.random
            return Retry(backoff_delay(attempt + 1, decision.retry_after, rand=rand))
        if action is Action.SPLIT and len(part) > 1:
            half = len(part) // 2
            return Split((part[:half], part[half:]))
        if action is Action.STOP_UNTIL_NEXT_MONTH:
            self.paused_until = next_month_start(now)
            self._report(
                "limit",
                f"monthly event limit exceeded; sending stops until {self.paused_until:%Y-%m-%d}"
                f" (UTC): {decision.reason}",
                part,
            )
        elif action is Action.RETRY:
            self._report(
                "retries", f"giving up after {attempt + 1} attempts: {decision.reason}", part
            )
        else:
            self._report(f"drop:{decision.reason[:8]}", f"batch refused: {decision.reason}", part)
        self.discard(len(part))
        return Done()

    def discard(self, count: int) -> None:
        with self._lock:
            self.discarded += count

    def drop(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count
        if self.dropped == count:
            logger.warning("realanalytics queue full: dropping new events (counted in stats)")

    def _report(self, kind: str, message: str, part: Sequence[Fragment]) -> None:
        # Logged once per kind of failure (a 400 would otherwise repeat for every batch);
        # every occurrence reaches on_error and the counters.
        if kind not in self._logged:
            self._logged.add(kind)
            logger.error("realanalytics: %s", message)
        else:
            logger.debug("realanalytics: %s", message)
        if self._on_error is not None:
            try:
                self._on_error(message, decode_fragments(part))
            except Exception:
                logger.exception("realanalytics on_error callback failed")
