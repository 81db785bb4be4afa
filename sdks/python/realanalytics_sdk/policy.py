"""What to do with an ingest answer, and how long to wait: pure functions, no I/O.

Both clients (threaded and asyncio) send a batch, hand the answer to ``decide`` and act
on the ``Decision``; the waiting time comes from ``backoff_delay``. Keeping the decisions
here lets them be tested without a server.
"""

import enum
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0


class Action(enum.Enum):
    SENT = "sent"  # 200: the gateway acknowledged the batch
    RETRY = "retry"  # 429 rate limit, 503, 5xx, network error: try again later
    DROP = "drop"  # 400, 401, 403, other 4xx: retrying cannot help
    SPLIT = "split"  # 413: send each half on its own
    STOP_UNTIL_NEXT_MONTH = "stop"  # 429 EVENT_LIMIT_EXCEEDED: the project is over its plan


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    retry_after: float | None = None  # seconds the server asked for, if it did
    reason: str = ""


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the gateway sends delta-seconds), or None."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def decide(status: int | None, body: bytes, retry_after: str | None) -> Decision:
    """The action for one answer; ``status`` None means the request never got one."""
    if status is None:
        return Decision(Action.RETRY, reason="network error")
    if 200 <= status < 300:
        return Decision(Action.SENT)
    parsed = _json_object(body)
    wait = parse_retry_after(retry_after)
    if status == 429 and parsed.get("code") == "EVENT_LIMIT_EXCEEDED":
        return Decision(Action.STOP_UNTIL_NEXT_MONTH, reason=_reason(status, parsed, body))
    if status == 413:
        return Decision(Action.SPLIT, reason=_reason(status, parsed, body))
    if status in (408, 429) or status >= 500:
        return Decision(Action.RETRY, retry_after=wait, reason=_reason(status, parsed, body))
    return Decision(Action.DROP, reason=_reason(status, parsed, body))


def backoff_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = BASE_DELAY_SECONDS,
    cap: float = MAX_DELAY_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    Exponential with "equal jitter": half of ``base * 2**(attempt-1)`` (capped) is fixed
    and the other half random, so many clients that failed together spread out but none
    retries at once. A server's ``Retry-After`` is a floor: never earlier than asked.
    """
    exponential = min(cap, base * 2.0 ** max(0, attempt - 1))
    delay: float = exponential / 2 + rand() * exponential / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def next_month_start(now: datetime) -> datetime:
    """The first instant of the next calendar month in UTC: when the monthly quota resets."""
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    if now.month == 12:
        return datetime(now.year + 1, 1, 1, tzinfo=UTC)
    return datetime(now.year, now.month + 1, 1, tzinfo=UTC)


def _json_object(body: bytes) -> dict[str, object]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(key): value for key, value in parsed.items()}


def _reason(status: int, parsed: dict[str, object], body: bytes) -> str:
    if not parsed:
        return f"HTTP {status}: {body[:200].decode(errors='replace')}"
    details = parsed.get("details")
    text = f"HTTP {status}: {parsed.get('error', '')}"
    if details:
        text += f" {json.dumps(details)[:1000]}"
    return text
