"""Two lanes' sinks on one project: the same partition numbers and offsets on two topics,
each lane counted in its own usage slots, so neither hides the other's count, past the
plan limit too (the workers never drop: the gateway reserved before it answered)."""

from datetime import UTC, datetime

import psycopg
import pytest
import redis

from contracts.events import encode_record
from contracts.lanes import Lane
from contracts.usage import month_of, total_used, usage_key
from stream_workers.received import RawRecord
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration


async def test_each_lane_counts_usage_in_its_own_slots(
    open_sink, make_project, database, services, redis_prefix
):
    p = await make_project("split", limit=1000)
    main, overflow = await open_sink(Lane.MAIN), await open_sink(Lane.OVERFLOW)
    now = datetime.now(UTC)

    def batch(count: int, first_offset: int, tag: str) -> list[RawRecord]:
        return [
            RawRecord(3, first_offset + n, encode_record(record(p, "e", now, f"{tag}{n}")))
            for n in range(count)
        ]

    # The overflow lane's offsets are lower than the main lane's: were they one Redis
    # field, set-if-newer would drop the overflow lane's count.
    assert (await main.apply(batch(600, 5000, "m"))).applied == 600
    overflow_result = await overflow.apply(batch(600, 10, "o"))
    assert (overflow_result.applied, overflow_result.dropped) == (600, 0)  # the limit: 1000
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT partition, used, reserved_seen, last_offset FROM usage_partitions ORDER BY 1"
        ).fetchall()
        offsets = conn.execute(
            "SELECT consumer, topic, partition, next_offset FROM consumer_offsets ORDER BY 1"
        ).fetchall()
    assert rows == [(3, 600, 600, 5599), (103, 600, 600, 609)]
    assert offsets == [("test", "events", 3, 5600), ("test-overflow", "events-overflow", 3, 610)]
    with redis.Redis.from_url(services.redis_url) as client:
        state = client.hgetall(usage_key(redis_prefix, p, month_of(now)))
    assert total_used(state) == 1200
    assert (state[b"p3"], state[b"s3"], state[b"o3"]) == (b"600", b"600", b"5599")
    assert (state[b"p103"], state[b"s103"], state[b"o103"]) == (b"600", b"600", b"609")
    # A resync from PostgreSQL writes both lanes' slots back as they were.
    with redis.Redis.from_url(services.redis_url) as client:
        client.delete(usage_key(redis_prefix, p, month_of(now)))
    await main.resync_usage(now.date().replace(day=1))
    with redis.Redis.from_url(services.redis_url) as client:
        assert total_used(client.hgetall(usage_key(redis_prefix, p, month_of(now)))) == 1200
