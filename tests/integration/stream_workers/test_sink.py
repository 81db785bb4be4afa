"""The exactly-once sink against real PostgreSQL and Redis, fed batches directly."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
import redis
from redis.asyncio import Redis

from contracts.events import encode_record
from contracts.usage import in_flight, month_of, total_used, usage_key
from ingest_gateway.quota import QuotaReserver
from stream_workers.received import RawRecord
from stream_workers.rollups import cover, local_day
from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import assert_projections, counted, generate, record

pytestmark = pytest.mark.integration


async def test_batches_match_ground_truth_and_redelivery_is_harmless(sink, make_project, database):
    a, b = await make_project("alpha"), await make_project("beta")
    records = generate([a, b], 3000)
    raws = as_raw(records)
    for start in range(0, len(raws), 700):
        await sink.apply(raws[start : start + 700])
    # The whole log again, in other batch sizes: nothing moves.
    for start in range(0, len(raws), 1100):
        result = await sink.apply(raws[start : start + 1100])
        assert result.applied == 0
    assert_projections(database, counted(records))


async def test_duplicate_insert_ids_count_once_within_a_batch_and_across(
    sink, make_project, database
):
    p = await make_project()
    ts = datetime(2026, 2, 1, 12, tzinfo=UTC)
    now = datetime.now(UTC)
    first = [record(p, "signup", ts, "u1", insert_id="x", received_at=now) for _ in range(3)]
    later = record(p, "signup", ts, "u1", insert_id="x", received_at=now + timedelta(days=6))
    again = record(p, "signup", ts, "u1", insert_id="x", received_at=now + timedelta(days=8))
    raws = as_raw([*first, later, again], partitions=1)
    r1 = await sink.apply(raws[:3])
    r2 = await sink.apply(raws[3:])
    assert (r1.applied, r1.duplicates, r2.applied, r2.duplicates) == (1, 2, 1, 1)
    assert_projections(database, [first[0], again])


async def test_two_sinks_racing_on_the_same_new_insert_ids_count_each_once(
    open_sink, make_project, database
):
    # Two workers' batches (partitions 0 and 1) carry the same never-seen insertIds at the
    # same moment: whichever commits first counts each id, the other finds it counted.
    p = await make_project()
    first, second = await open_sink(), await open_sink()
    now = datetime.now(UTC)
    for round_ in range(5):
        ids = [f"r{round_}-{n}" for n in range(400)]
        batches = [
            [
                RawRecord(
                    part,
                    round_ * 400 + n,
                    encode_record(record(p, "e", now, f"u{part}{n}", insert_id=i, received_at=now)),
                )
                for n, i in enumerate(ids)
            ]
            for part in (0, 1)
        ]
        a, b = await asyncio.gather(first.apply(batches[0]), second.apply(batches[1]))
        assert (a.applied + b.applied, a.duplicates + b.duplicates) == (400, 400)
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT insert_id) FROM events").fetchone()
        assert row == (2000, 2000)
        assert conn.execute("SELECT count(*) FROM event_dedup").fetchone() == (2000,)


async def test_events_past_the_limit_are_counted_never_dropped(
    sink, make_project, database, services, redis_prefix
):
    # The gateway reserves quota before it answers 200; what reaches the workers past the
    # limit (answered while Redis was down) is overage, counted like any other event.
    p = await make_project("small", limit=10_000)
    now = datetime.now(UTC)
    records = [record(p, "$pageview", now, f"u{n % 97}", received_at=now) for n in range(10_500)]
    raws = as_raw(records, partitions=4)
    results = [await sink.apply(raws[s : s + 1000]) for s in range(0, len(raws), 1000)]
    assert sum(r.applied for r in results) == 10_500
    assert sum(r.dropped for r in results) == 0
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (10_500,)
        assert conn.execute(
            "SELECT sum(events) FROM rollups WHERE granularity = 'day'"
        ).fetchone() == (10_500,)
        assert conn.execute("SELECT used FROM usage_months").fetchone() == (10_500,)
    with redis.Redis.from_url(services.redis_url) as client:
        state = client.hgetall(usage_key(redis_prefix, p, month_of(now)))
    assert (total_used(state), in_flight(state), int(state[b"limit"])) == (10_500, 0, 10_000)
    # The gateway's reservation reads that state: the next request is refused.
    async with Redis.from_url(services.redis_url) as client:
        refused = await QuotaReserver(client, redis_prefix).reserve(p, 1, 10_000, now)
    assert not refused.granted
    assert (refused.usage.used, refused.usage.remaining) == (10_500, 0)


async def test_reservations_in_flight_are_used_until_a_worker_sees_them_once(
    sink, make_project, services, redis_prefix
):
    p = await make_project("reserving", limit=1000)
    now = datetime.now(UTC)
    async with Redis.from_url(services.redis_url) as client:
        reserver = QuotaReserver(client, redis_prefix)
        assert (await reserver.reserve(p, 300, 1000, now)).usage.used == 300
        # Seen by a worker: 300 records, 100 of them a retry of an insertId (seen, not
        # counted), and 50 answered while Redis was down (counted, never reserved).
        records = [
            record(p, "e", now, f"u{n}", insert_id=f"i{n % 200}", received_at=now)
            for n in range(300)
        ] + [record(p, "e", now, "x", received_at=now, quota_reserved=False) for _ in range(50)]
        result = await sink.apply(as_raw(records, partitions=2))
        assert (result.applied, result.duplicates) == (250, 100)
        # Counted 250 (200 + 50 unreserved), nothing in flight: used is exact again.
        refused = await reserver.reserve(p, 751, 1000, now)
        assert (refused.granted, refused.usage.used) == (False, 250)
        granted = await reserver.reserve(p, 750, 1000, now)
        assert (granted.granted, granted.usage.used) == (True, 1000)
        await reserver.release(granted)
        assert (await reserver.reserve(p, 750, 1000, now)).granted


async def test_late_events_land_in_their_buckets_and_timezone_days_add_up(
    sink, make_project, database
):
    p = await make_project()
    # Around the New York spring-forward day and a Kolkata day, received weeks later.
    received = datetime(2026, 4, 20, tzinfo=UTC)
    stamps = [
        datetime(2026, 3, 8, 4, 59, tzinfo=UTC),  # 23:59 EST on the 7th
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 EST on the 8th
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 EDT on the 8th
        datetime(2026, 3, 9, 3, 59, tzinfo=UTC),  # 23:59 EDT on the 8th
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 EDT on the 9th
        datetime(2026, 3, 7, 18, 29, tzinfo=UTC),  # Kolkata 23:59 on the 7th
        datetime(2026, 3, 7, 18, 30, tzinfo=UTC),  # Kolkata 00:00 on the 8th
    ]
    records = [record(p, "e", ts, f"u{n}", received_at=received) for n, ts in enumerate(stamps)]
    await sink.apply(as_raw(records, partitions=1))

    def day_total(day: date, zone: str) -> int:
        buckets = cover(*local_day(day, zone))
        with psycopg.connect(database) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(r.events), 0) FROM rollups r"
                " JOIN unnest(%s::text[], %s::timestamptz[]) c(g, b)"
                " ON r.granularity = c.g AND r.bucket = c.b WHERE r.project_id = %s",
                ([g for g, _ in buckets], [b for _, b in buckets], p),
            ).fetchone()
        return int(row[0])

    assert day_total(date(2026, 3, 8), "America/New_York") == 3
    assert day_total(date(2026, 3, 7), "America/New_York") == 3  # 23:59 EST + both Kolkata
    assert day_total(date(2026, 3, 9), "America/New_York") == 1
    assert day_total(date(2026, 3, 8), "Asia/Kolkata") == 4
    assert day_total(date(2026, 3, 9), "Asia/Kolkata") == 2
    assert day_total(date(2026, 3, 7), "Asia/Kolkata") == 1
    with psycopg.connect(database) as conn:
        # The late rows went to their own month's partition, not the default one.
        assert conn.execute("SELECT count(*) FROM events_2026_03").fetchone() == (7,)
        assert conn.execute("SELECT count(*) FROM events_default").fetchone() == (0,)


async def test_malformed_records_are_dead_lettered_once_and_offsets_move_on(
    sink, make_project, database, dead_letters
):
    p = await make_project()
    good = as_raw([record(p, "e", datetime.now(UTC), "u1")], partitions=1)[0]
    batch = [
        RawRecord(0, 0, b"not json"),
        RawRecord(0, 1, b'{"event": "x"}'),
        RawRecord(0, 2, good.value),
    ]
    result = await sink.apply(batch)
    assert (result.applied, result.dead_lettered) == (1, 2)
    await sink.apply(batch)  # re-delivered: neither applied nor dead-lettered again
    assert [r.offset for r, _ in dead_letters] == [0, 1]
    assert "not JSON" in dead_letters[0][1]
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT next_offset FROM consumer_offsets").fetchone() == (3,)
