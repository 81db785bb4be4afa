"""Applying a batch until it is applied: the events agent must never leave its loop with
a batch unapplied, because Faust's ``take_events`` acknowledges the batch in a
``finally`` as the loop ends — a sink error that escaped would commit Kafka offsets past
events PostgreSQL never got."""

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

EXIT_UNAPPLIED = 70  # EX_SOFTWARE: stopped with a batch not applied; Kafka re-delivers it


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


def exit_unapplied() -> None:
    """End the process at once, before ``take_events`` could acknowledge the batch."""
    logging.shutdown()
    os._exit(EXIT_UNAPPLIED)
