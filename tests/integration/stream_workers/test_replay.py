"""Replay rebuilds every projection from the log, row for row equal to the live worker's."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from stream_workers.replay import replay, schema_url
from stream_workers.settings import Settings
from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import applied_offsets, produce, wait_until

pytestmark = pytest.mark.integration

# Every projection, as comparable rows (sketches as their bytes, in hex). A project past
# its plan limit is compared like any other: the workers count every event (the gateway
# reserved quota before answering 200), so no partition order decides which are kept.
TABLES = {
    "events": "SELECT * FROM events ORDER BY id",
    "rollups": "SELECT project_id, event, granularity, bucket, events, users::text,"
    " sessions::text, public.hll_cardinality(users) FROM rollups ORDER BY 1, 2, 3, 4",
    "breakdown_rollups": "SELECT project_id, event, key, granularity, bucket, value, events,"
    " users::text, sessions::text FROM breakdown_rollups ORDER BY 1, 2, 3, 4, 5, 6 NULLS FIRST",
    "usage_months": "SELECT * FROM usage_months ORDER BY 1, 2",
    "usage_partitions": "SELECT * FROM usage_partitions ORDER BY 1, 2, 3",
    "event_dedup": "SELECT * FROM event_dedup ORDER BY 1, 2",
    "consumer_offsets": "SELECT consumer, topic, partition, next_offset, last_received_at"
    " FROM consumer_offsets ORDER BY 1, 2, 3",
}


def snapshot(conninfo: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(conninfo) as conn:
        return {name: conn.execute(query).fetchall() for name, query in TABLES.items()}  # type: ignore[call-overload]


@pytest.fixture
def rebuilt(database, unique_group) -> Iterator[str]:
    """Name of the schema a replay builds into; it and its ``_later`` twin are dropped
    afterwards, passed or failed."""
    name = f"{unique_group.replace('-', '_')}_replay"
    yield name
    with psycopg.connect(database, autocommit=True) as conn:
        for schema in (name, f"{name}_later"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # generated names


async def test_replay_into_a_fresh_schema_equals_the_live_tables(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn, rebuilt
):
    big, small = await make_project("big"), await make_project("small", limit=500)
    records = generate([big, small], 4000, seed=5, users=400, days=2)
    await produce(services.kafka_bootstrap, kafka_topic, records)
    producer = AIOKafkaProducer(bootstrap_servers=services.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(kafka_topic, b"not json", partition=0)  # dead-lettered
    await producer.stop()
    worker = spawn("live")
    worker.start()
    try:
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records) + 1,
            90,
            "the live worker",
            [worker.log],
        )
    finally:
        worker.stop()
    settings = Settings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        control_topic=worker_env["RA_CONTROL_TOPIC"],
        group_id=unique_group,
    )
    seen: list[tuple[int, int]] = []
    result = await replay(
        settings, rebuilt, batch_max=1500, progress=lambda d, t: seen.append((d, t))
    )
    assert result.records == len(records) + 1
    assert seen[-1] == (len(records) + 1, len(records) + 1)
    live = snapshot(database)
    again = snapshot(schema_url(database, rebuilt))
    for name in TABLES:
        assert again[name] == live[name], name
    assert len(live["events"]) > 0 and len(live["breakdown_rollups"]) > 0
    # Past its limit of 500, the small project has every one of its events counted.
    small_events = sum(1 for row in live["events"] if str(row[1]) == small)
    assert {str(p): u for p, _, u, _ in live["usage_months"]}[small] == small_events > 500

    # --from a moment after the last record: nothing to replay.
    later = datetime.now(UTC) + timedelta(hours=1)
    empty = await replay(settings, f"{rebuilt}_later", since=later)
    assert empty.records == 0


async def test_replay_reads_both_lanes_into_their_own_offsets_and_usage_slots(
    services,
    database,
    make_project,
    kafka_topic,
    overflow_topic,
    unique_group,
    worker_env,
    spawn,
    rebuilt,
):
    hot, small = await make_project("hot"), await make_project("small", limit=300)
    records = generate([hot, small], 3000, seed=9, users=300, days=1)
    await produce(
        services.kafka_bootstrap, overflow_topic, [r for r in records if r.project_id == hot]
    )
    await produce(
        services.kafka_bootstrap, kafka_topic, [r for r in records if r.project_id != hot]
    )
    workers = [spawn("live-main"), spawn("live-overflow", lane="overflow")]
    for worker in workers:
        worker.start()
    groups = [unique_group, f"{unique_group}-overflow"]
    try:
        await wait_until(
            lambda: sum(applied_offsets(database, g) for g in groups) == len(records),
            90,
            "both live workers",
            [w.log for w in workers],
        )
    finally:
        for worker in workers:
            worker.stop()
    settings = Settings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        control_topic=worker_env["RA_CONTROL_TOPIC"],
        group_id=unique_group,
    )
    seen: list[tuple[int, int]] = []
    result = await replay(settings, rebuilt, progress=lambda d, t: seen.append((d, t)))
    assert result.records == len(records) and seen[-1] == (len(records), len(records))
    live = snapshot(database)
    again = snapshot(schema_url(database, rebuilt))
    for name in TABLES:
        assert again[name] == live[name], name
    assert {topic for _, topic, *_ in live["consumer_offsets"]} == {kafka_topic, overflow_topic}
    slots = {int(slot) for p, _, slot, *_ in live["usage_partitions"] if str(p) == hot}
    assert slots and min(slots) >= 100  # the overflow lane's


async def test_replay_of_each_shard_rebuilds_its_own_projects(
    services, database, shard_database, make_project, kafka_topic, unique_group, worker_env,
    rebuilt,
):  # fmt: skip
    """Sharded (contracts/shards.py): a replay with RA_WORKER_SHARD rebuilds that shard's
    projects from the log, their limits from the control database, nothing of the others."""
    home, away = await make_project("home"), await make_project("away")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET shard = 'eu' WHERE id = %s", (away,))
    records = generate([home, away], 3000, seed=13, users=300, days=1)
    await produce(services.kafka_bootstrap, kafka_topic, records)
    truth = counted(records)
    for shard, url in (("default", database), ("eu", shard_database)):
        settings = Settings(
            database_url=url,
            redis_url=services.redis_url,
            kafka_bootstrap=services.kafka_bootstrap,
            events_topic=kafka_topic,
            control_topic=worker_env["RA_CONTROL_TOPIC"],
            group_id=unique_group,
            shard=shard,
            shard_databases={"default": database, "eu": shard_database},
        )
        schema = f"{rebuilt}_{shard}"
        try:
            result = await replay(settings, schema)
            assert result.records == len(records)
            mine = home if shard == "default" else away
            assert_projections(schema_url(url, schema), [r for r in truth if r.project_id == mine])
        finally:
            with psycopg.connect(database, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # a generated name
