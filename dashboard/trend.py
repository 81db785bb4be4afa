"""Pure decisions over the ops view's short history of offset samples: rates and the
"lag keeps growing" banner."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # monotonic seconds
    log_end: int  # sum of the events topic's log-end offsets
    committed: int  # sum of the group's committed offsets
    lag: int  # sum of the known per-partition lags


@dataclass(frozen=True, slots=True)
class Rates:
    in_per_second: float | None  # appended to the events topic
    out_per_second: float | None  # committed by the workers


def rates(history: Sequence[Sample], window: float) -> Rates:
    """Events/s in and out over the last ``window`` seconds (or the history there is).

    Two samples are needed; a sum that went down (a topic recreated, a group reset) is not
    a rate, so it reads as unknown rather than negative.
    """
    if len(history) < 2:
        return Rates(None, None)
    newest = history[-1]
    oldest = next((s for s in history if newest.at - s.at <= window), history[-2])
    if oldest is newest:
        oldest = history[-2]
    elapsed = newest.at - oldest.at
    if elapsed <= 0:
        return Rates(None, None)

    def per_second(before: int, after: int) -> float | None:
        return None if after < before else round((after - before) / elapsed, 2)

    return Rates(
        per_second(oldest.log_end, newest.log_end), per_second(oldest.committed, newest.committed)
    )


def lag_growth_seconds(history: Sequence[Sample], max_gap: float) -> float:
    """For how long the total lag has been rising without ever falling, up to the newest
    sample; 0 when it is not rising.

    The run starts at the last sample before the first rise (a flat stretch before it does
    not count) and is broken by a fall or by a gap between samples longer than ``max_gap``
    (nobody was looking then: we cannot tell what happened).
    """
    if len(history) < 2:
        return 0.0
    start = len(history) - 1
    while start > 0:
        before, after = history[start - 1], history[start]
        if before.lag > after.lag or after.at - before.at > max_gap:
            break
        start -= 1
    # Skip the flat stretch at the start of the run: growth begins at its last sample.
    while start < len(history) - 1 and history[start + 1].lag == history[start].lag:
        start += 1
    if history[-1].lag <= history[start].lag:
        return 0.0
    return history[-1].at - history[start].at


def lag_alert(history: Sequence[Sample], threshold: float, max_gap: float) -> bool:
    """The banner: lag has grown for more than ``threshold`` seconds."""
    return lag_growth_seconds(history, max_gap) > threshold
