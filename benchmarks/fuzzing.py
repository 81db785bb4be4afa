"""The driver both fuzzers share: draw ``count`` requests from a Hypothesis strategy, send
each, and count the 5xx answers — a figure here, not a failure, so nothing is shrunk."""

from collections.abc import Callable
from typing import TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

Request = TypeVar("Request")


def count_5xx(
    requests: st.SearchStrategy[Request],
    send: Callable[[Request], int | None],
    count: int,
    seed: int = 0,
) -> tuple[int, int]:
    """``(sent, 5xx answers)``; ``send`` returns a status, or None for no answer to count."""
    seen = {"sent": 0, "5xx": 0}

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests)
    def send_one(request: Request) -> None:
        status = send(request)
        seen["sent"] += 1
        seen["5xx"] += status is not None and status >= 500

    send_one()
    return seen["sent"], seen["5xx"]
