"""The ops view's last raw-retention run of each shard (issue 17, docs/decisions/0016).

Each shard's workers drop whole raw-event partitions past their projects' retention and
record every run, per shard, in the control database's ``retention_runs`` (its
``error`` NULL when the run succeeded). The view shows the latest run of each shard that
has run at least once: a shard whose workers have not run retention yet is absent, so an
operator reads "never ran" from a missing row rather than from a row of nulls.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from contracts.shards import DEFAULT_SHARD

# The latest run per shard: by when it finished, then by id (two runs finishing in the
# same microsecond: the one recorded last). ``retention_runs_latest`` serves it.
_LATEST = """
SELECT DISTINCT ON (shard) shard, started_at, finished_at, cardinality(partitions),
    stray_rows, error
FROM retention_runs
ORDER BY shard, finished_at DESC, id DESC
"""


@dataclass(frozen=True, slots=True)
class RetentionRun:
    shard: str
    started_at: datetime
    finished_at: datetime
    partitions_dropped: int
    stray_rows: int
    error: str | None


async def last_runs(conn: AsyncConnection[Any]) -> list[RetentionRun]:
    """Each shard's latest retention run, read from the control database."""
    cursor = await conn.execute(_LATEST)
    return [
        RetentionRun(shard, started, finished, int(dropped), int(stray), error)
        for shard, started, finished, dropped, stray, error in await cursor.fetchall()
    ]


def retention_body(runs: Sequence[RetentionRun]) -> list[dict[str, Any]]:
    """The runs as the ops JSON shows them, the default shard first, then by name."""
    ordered = sorted(runs, key=lambda run: (run.shard != DEFAULT_SHARD, run.shard))
    return [
        {
            "shard": run.shard,
            "startedAt": run.started_at.isoformat(),
            "finishedAt": run.finished_at.isoformat(),
            "partitionsDropped": run.partitions_dropped,
            "strayRows": run.stray_rows,
            "error": run.error,
        }
        for run in ordered
    ]
