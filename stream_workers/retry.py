"""Applying a batch until it is applied: its events are acknowledged only afterwards, and
Kafka commits only acknowledged offsets in order — a batch given up would hold every
later offset back (stream_workers/batcher.py)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)


async def apply_until_done(
    apply: Callable[[], Awaitable[Any]],
    on_failure: Callable[[], None] = lambda: None,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
) -> None:
    """Retry ``apply`` with capped exponential backoff until it succeeds. Lag grows (and
    shows in the lag view and metrics) while, say, PostgreSQL is down or not migrated."""
    delay = first_delay
    while True:
        try:
            await apply()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            on_failure()
            logger.exception("applying a batch failed; retrying in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
