"""The two lanes end to end: a real gateway process routes a hot project to the overflow
topic, a worker process per lane applies them, against real Kafka, PostgreSQL and Redis.

A project split over both lanes is counted exactly once (dedup and the plan limit's
reservation are per project, whatever the lane), and a flood's backlog on the overflow
lane does not delay a quiet project's events on the main lane."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import psycopg
import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.events import EventRecord, decode_record
from contracts.usage import OVERFLOW_SLOT_BASE, month_of, total_used, usage_key
from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings as GatewaySettings
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.integration.stream_workers.truth import record
from tests.integration.stream_workers.workers import WorkerProcess, produce, wait_until
from tests.support.projects import new_project

pytestmark = pytest.mark.integration

THRESHOLD = 300  # events per second before a project goes to the overflow lane
BACKLOG = 400_000  # the flood waiting on the overflow lane
FRESH_WITHIN = 3.0  # seconds: a quiet project's events visible after their 200 (~0.4 s here)


@pytest.fixture
def gateway_url(
    services: Any, database: str, kafka_topic: str, overflow_topic: str, redis_prefix: str
) -> Iterator[str]:
    settings = GatewaySettings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        control_topic=f"{kafka_topic}-control",
        redis_prefix=redis_prefix,
    )
    with gateway_process(
        settings,
        RA_INGEST_OVERFLOW_EVENTS_PER_SECOND=str(THRESHOLD),
        RA_INGEST_OVERFLOW_STICKY_SECONDS="60",
        RA_RATE_LIMIT="1000000",
    ) as url:
        yield url


def event(n: int, name: str = "page_viewed", **overrides: Any) -> dict[str, Any]:
    return {
        "event": name,
        "timestamp": datetime.now(UTC).isoformat(),
        "distinctId": f"user_{n % 50}",
        "sessionId": f"sess_{n % 50}",
        "properties": {"$pathname": f"/p/{n % 7}"},
        "insertId": f"ins-{n}",
        **overrides,
    }


async def post(session: aiohttp.ClientSession, url: str, key: str, body: Any) -> int:
    async with session.post(url, json=body, headers={"X-API-Key": key}) as response:
        await response.read()
        return response.status


async def read_records(bootstrap: str, topic: str) -> list[EventRecord]:
    """Every record on ``topic`` now (up to each partition's end)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[EventRecord] = []
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                out += [decode_record(m.value) for m in messages if m.offset < ends[tp]]
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
        return out
    finally:
        await consumer.stop()


def applied(database: str, groups: list[str]) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer = ANY(%s)",
            (groups,),
        ).fetchone()
    return int(row[0]) if row else 0


def lanes(spawn: Any) -> tuple[WorkerProcess, WorkerProcess]:
    return spawn("main-1"), spawn("overflow-1", lane="overflow")


async def test_a_project_split_over_both_lanes_is_counted_exactly_once(
    services: Any,
    database: str,
    kafka_topic: str,
    overflow_topic: str,
    unique_group: str,
    redis_prefix: str,
    gateway_url: str,
    spawn: Any,
) -> None:
    hot, quiet = await new_project(database, "hot", "pro"), await new_project(database, "quiet")
    capped = await new_project(database, "capped", "pro")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET monthly_event_limit = 500 WHERE id = %s", (capped.id,))

    async def burst(
        session: aiohttp.ClientSession, who: CreatedProject, bodies: list[Any]
    ) -> list[int]:
        statuses = await asyncio.gather(
            *(post(session, gateway_url, who.public_key, b) for b in bodies)
        )
        assert set(statuses) <= ({200, 429} if who is capped else {200})
        return statuses

    def hundred(first: int) -> list[dict[str, Any]]:
        return [event(n) for n in range(first, first + 100)]

    async with aiohttp.ClientSession() as session:
        # The first request of each is on the main lane; a burst then passes the threshold
        # (sticky: everything after it goes to the overflow lane).
        await burst(session, hot, [hundred(0)])
        await burst(session, capped, [hundred(0)])
        await burst(session, hot, [hundred(n) for n in range(100, 500, 100)])
        # Capped at 500: of its seven concurrent batches, exactly four fit the limit.
        capped_burst = await burst(session, capped, [hundred(n) for n in range(100, 800, 100)])
        assert sorted(capped_burst) == [200] * 4 + [429] * 3
        for first in range(500, 2000, 100):
            await burst(session, hot, [hundred(first)])
        # A client retry of the hot project's first event, now on the other lane.
        await burst(session, hot, [[event(0)]])
        for first in range(0, 50, 10):
            await burst(session, quiet, [[event(n) for n in range(first, first + 10)]])

    main = await read_records(services.kafka_bootstrap, kafka_topic)
    hot_lane = await read_records(services.kafka_bootstrap, overflow_topic)

    def ids(records: list[EventRecord], who: CreatedProject) -> list[str]:
        return [str(r.insert_id) for r in records if r.project_id == who.id]

    assert "ins-0" in ids(main, hot) and "ins-0" in ids(hot_lane, hot), "routing premise"
    assert ids(main, capped) and ids(hot_lane, capped), "routing premise"
    assert ids(hot_lane, quiet) == [] and len(ids(main, quiet)) == 50

    main_worker, overflow_worker = lanes(spawn)
    main_worker.start()
    overflow_worker.start()
    groups = [unique_group, f"{unique_group}-overflow"]
    try:
        await wait_until(
            lambda: applied(database, groups) == len(main) + len(hot_lane),
            120,
            "both lanes applied",
            [main_worker.log, overflow_worker.log],
        )
    finally:
        main_worker.stop()
        overflow_worker.stop()

    month = datetime.now(UTC).replace(day=1).date()
    with psycopg.connect(database) as conn:

        def one(sql: str, *args: Any) -> Any:
            row = conn.execute(sql, args).fetchone()
            return row[0] if row and len(row) == 1 else row

        for who, used in ((hot, 2000), (quiet, 50), (capped, 500)):
            assert one("SELECT count(*) FROM events WHERE project_id = %s", who.id) == used
            sums = conn.execute(
                "SELECT granularity, sum(events) FROM rollups WHERE project_id = %s GROUP BY 1",
                (who.id,),
            ).fetchall()
            assert sums and {int(n) for _, n in sums} == {used}, (who.slug, sums)
            assert one(
                "SELECT used, dropped FROM usage_months WHERE project_id = %s AND month = %s",
                who.id,
                month,
            ) == (used, 0)
            assert (
                one("SELECT sum(used) FROM usage_partitions WHERE project_id = %s", who.id) == used
            )
        # Dedup is per project whatever the lane: the retry on the other lane is not counted.
        assert (
            one("SELECT count(*) FROM events WHERE project_id = %s AND insert_id = 'ins-0'", hot.id)
            == 1
        )
        slots = {
            s
            for (s,) in conn.execute(
                "SELECT partition FROM usage_partitions WHERE project_id = %s", (hot.id,)
            )
        }
    # Each lane counted in its own slots; the gateway reads their sum.
    assert min(slots) < OVERFLOW_SLOT_BASE <= max(slots)
    with redis.Redis.from_url(services.redis_url) as client:
        state = client.hgetall(usage_key(redis_prefix, hot.id, month_of(datetime.now(UTC))))
    assert total_used(state) == 2000


# Long (about 45 s): `make faults`; the lanes' routing and exactness are tested above.
@pytest.mark.long
async def test_a_flood_waiting_on_the_overflow_lane_does_not_delay_a_quiet_project(
    services: Any,
    database: str,
    kafka_topic: str,
    overflow_topic: str,
    unique_group: str,
    gateway_url: str,
    spawn: Any,
) -> None:
    """Without the overflow lane the flood would sit ahead of the quiet project's events:
    with the same backlog on the events topic and one worker (the code before the lanes),
    they waited for all of it."""
    noisy, quiet = await new_project(database, "noisy", "pro"), await new_project(database)
    now = datetime.now(UTC)
    for first in range(0, BACKLOG, 50_000):  # in chunks: memory
        flood = [
            record(noisy.id, "flood", now, f"u{n % 5000}", f"s{n % 5000}", {"$pathname": "/"})
            for n in range(first, first + 50_000)
        ]
        await produce(services.kafka_bootstrap, overflow_topic, flood)
    main_worker, overflow_worker = lanes(spawn)
    main_worker.start()
    overflow_worker.start()
    overflow_group = [f"{unique_group}-overflow"]
    seen_at: dict[str, float] = {}
    acked_at: dict[str, float] = {}
    backlog_left: list[int] = []
    try:
        await wait_until(
            lambda: applied(database, overflow_group) > 0,
            60,
            "the overflow lane applying",
            [overflow_worker.log],
        )
        async with (
            aiohttp.ClientSession() as session,
            await psycopg.AsyncConnection.connect(database, autocommit=True) as conn,
        ):

            async def watch() -> None:
                while len(seen_at) < 6:
                    cursor = await conn.execute(
                        "SELECT event FROM rollups WHERE project_id = %s AND granularity = 'day'"
                        " GROUP BY event HAVING sum(events) = 10",
                        (quiet.id,),
                    )
                    for (name,) in await cursor.fetchall():
                        if name not in seen_at:
                            seen_at[name] = time.perf_counter()
                            backlog_left.append(BACKLOG - applied(database, overflow_group))
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            for tick in range(6):
                name = f"tick-{tick}-{uuid.uuid4().hex[:6]}"
                body = [event(n, name) for n in range(tick * 10, tick * 10 + 10)]
                assert await post(session, gateway_url, quiet.public_key, body) == 200
                acked_at[name] = time.perf_counter()
                await asyncio.sleep(0.5)
            await asyncio.wait_for(watcher, 60)
    finally:
        main_worker.stop()
        overflow_worker.stop()
    delays = sorted(seen_at[name] - acked_at[name] for name in acked_at)
    assert backlog_left[0] > 0, "the flood was drained before the quiet project was measured"
    assert delays[-1] < FRESH_WITHIN, delays
