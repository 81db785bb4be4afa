"""How fresh the rollups are: the stream workers' applied watermark from consumer_offsets.

The sink stores, with each batch, the receivedAt of the last record it applied per
partition; every projection is complete up to the oldest of those. A partition that has
been idle keeps an old receivedAt, so an idle topic reads as behind: the figure is an
upper bound on staleness.
"""

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

_WATERMARK_SQL = (
    "SELECT min(last_received_at), max(last_received_at), count(*) FROM consumer_offsets"
    " WHERE consumer = %s AND topic = %s"
)


def describe(
    oldest: datetime | None, newest: datetime | None, partitions: int, now: datetime
) -> dict[str, Any]:
    return {
        "watermark": oldest.astimezone(UTC).isoformat() if oldest else None,
        "newest": newest.astimezone(UTC).isoformat() if newest else None,
        "secondsBehind": round((now - oldest).total_seconds(), 3) if oldest else None,
        "partitions": partitions,
    }


async def freshness(conn: AsyncConnection, consumer: str, topic: str) -> dict[str, Any]:
    cursor = await conn.execute(_WATERMARK_SQL, (consumer, topic))
    row = await cursor.fetchone()
    oldest, newest, partitions = row if row else (None, None, 0)
    return describe(oldest, newest, int(partitions), datetime.now(UTC))
