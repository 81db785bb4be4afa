"""Applying a batch so that records the database refuses cannot hold the others back.

A batch that fails for a data reason (``stream_workers.failures``) is split in two and
each half applied on its own, recursively, until every refused record stands alone; such
a record is then applied as a dead letter (sent to the dead-letter topic with the reason,
its offset stored as any other's) and everything else applies. An infrastructure error
is raised, for the caller to retry the whole batch (``stream_workers.retry``).

Exactly once: every piece is a batch of its own — one transaction writes its rows and its
partitions' next offsets. The halves are cut in topic order (``halves``: every record of a
partition in the first half lies before every one of it in the second) and the first is
applied first, so a stored offset never passes a record not yet applied. A crash or a
retry after some pieces committed re-delivers the whole batch, and the sink skips what
they applied by its stored offsets, as for any re-delivery.

Cost: k refused records in a batch of n take about 2·k·log2(n) more transactions.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from stream_workers.failures import Failure, classify, describe

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


def halves(
    batch: Sequence[Item], position: Callable[[Item], tuple[int, int]]
) -> tuple[list[Item], list[Item]]:
    """The batch in topic order (partition, offset), cut in the middle."""
    ordered = sorted(batch, key=position)
    middle = len(ordered) // 2
    return ordered[:middle], ordered[middle:]


async def apply_isolating(
    apply: Callable[[Sequence[Item]], Awaitable[Result]],
    batch: Sequence[Item],
    position: Callable[[Item], tuple[int, int]],
    refuse: Callable[[Item, Failure, str], Item],
    judge: Callable[[BaseException], Failure] = classify,
) -> list[Result]:
    """Apply ``batch``; on a data error, its halves, down to single records, which are
    applied as ``refuse(record, failure, detail)`` instead. The results of every piece
    that applied, in order."""
    try:
        return [await apply(batch)]
    except Exception as exc:
        failure = judge(exc)
        if not failure.is_data or not batch:
            raise
        if len(batch) == 1:
            partition, offset = position(batch[0])
            logger.warning(
                "record at partition %d offset %d refused by the database (%s): dead-lettered",
                partition,
                offset,
                failure.code,
            )
            return [await apply([refuse(batch[0], failure, describe(exc))])]
        logger.warning(
            "a batch of %d records failed for a data reason (%s): splitting it",
            len(batch),
            failure.code,
        )
    first, second = halves(batch, position)
    return [
        *await apply_isolating(apply, first, position, refuse, judge),
        *await apply_isolating(apply, second, position, refuse, judge),
    ]
