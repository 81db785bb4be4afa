"""One project's poison records never stall the others: the worker as a process against
real Kafka, PostgreSQL and Redis, killed with -9 while it isolates them."""

import random
import urllib.request
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.control import ConfigDeployed, control_key, encode_control
from contracts.events import REQUEST_ID_HEADER, EventRecord, encode_record, record_key
from tests.integration.stream_workers.test_sink_poison import astral, refuse_poison
from tests.integration.stream_workers.truth import assert_projections, counted, generate, record
from tests.integration.stream_workers.workers import (
    applied_offsets,
    kill_then_finish,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration


async def send(
    bootstrap: str,
    topic: str,
    items: list[tuple[bytes, bytes | None]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Append (key, value) records as they are, whatever they hold (each with ``headers``)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def deploy(bootstrap: str, control: str, project: str, keys: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(control, 1, 1)])
    finally:
        await admin.close()
    message = ConfigDeployed(project, 1, {"breakdownKeys": keys})
    await send(bootstrap, control, [(control_key(project), encode_control(message))])


async def letters_with_values(
    bootstrap: str, topic: str, count: int
) -> list[tuple[str, str, bytes, dict[str, bytes]]]:
    """(ra-source, ra-error, value, headers) of the first ``count`` dead letters."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, str, bytes, dict[str, bytes]]] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        for _ in range(20):
            for message in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                headers = dict(message.headers)
                source, reason = headers["ra-source"].decode(), headers["ra-error"].decode()
                found.append((source, reason, message.value, headers))
            if len(found) >= count:
                break
    finally:
        await consumer.stop()
    return found


async def dead_letters(bootstrap: str, topic: str, count: int) -> list[tuple[str, str]]:
    """(ra-source, ra-error) of the first ``count`` records of the dead-letter topic."""
    letters = await letters_with_values(bootstrap, topic, count)
    return [(source, reason) for source, reason, _, _ in letters]


def keyed(r: EventRecord) -> tuple[bytes, bytes]:
    return record_key(r.project_id, r.distinct_id), encode_record(r)


def metric(port: int, name: str) -> dict[str, float]:
    """Every sample of ``name`` on a worker's /metrics, by its label text."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith(name):
            labels, value = line[len(name) :].rsplit(" ", 1)
            samples[labels] = float(value)
    return samples


async def test_a_breakdown_value_too_big_to_index_stalls_no_project(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    # The case: a config with a breakdown key, then values of a few thousand 4-byte
    # characters for it. Before, the rollup row exceeded PostgreSQL's index-row limit and
    # the batch was retried forever: nobody's events became visible any more.
    bootstrap = services.kafka_bootstrap
    hostile, quiet = await make_project("hostile"), await make_project("quiet")
    key = astral(200, 5)  # the most the control plane allows: 200 characters (800 bytes)
    await deploy(bootstrap, worker_env["RA_CONTROL_TOPIC"], hostile, [key])
    now = datetime.now(UTC)
    records = generate([quiet], 500, seed=3, days=0.05)
    records[250:250] = [
        record(hostile, "e", now, f"h{n}", properties={key: astral(3000, n)}) for n in range(3)
    ]
    worker = spawn("w1")
    worker.start()
    try:
        await produce(bootstrap, kafka_topic, records)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(records),
            60,
            "every record, the hostile ones too",
            [worker.log],
        )
    finally:
        worker.stop()
    assert_projections(database, counted(records))


async def test_refused_records_are_dead_lettered_and_counted_per_reason(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    bootstrap = services.kafka_bootstrap
    p = await make_project()
    refuse_poison(database)
    now = datetime.now(UTC)
    good = [record(p, "e", now, f"u{n}") for n in range(200)]
    refused = [record(p, "e", now, f"poison-{n}") for n in range(2)]
    # A timestamp at year 1 with an offset: before, reading it raised (OverflowError)
    # in the fetch loop, which took the worker down.
    year_one = orjson.loads(encode_record(good[0]))
    year_one["timestamp"] = "0001-01-01T00:00:00+01:00"
    items = [
        *map(keyed, good[:100]),
        *map(keyed, refused),
        (b"k", orjson.dumps(year_one)),
        (b"k", b"not json"),
        *map(keyed, good[100:]),
    ]
    worker = spawn("w1")
    worker.start()
    try:
        await send(bootstrap, kafka_topic, items, [(REQUEST_ID_HEADER, b"edge-7")])
        await wait_until(
            lambda: applied_offsets(database, unique_group) == len(items),
            60,
            "every record",
            [worker.log],
        )
        await wait_until(
            lambda: sum(metric(worker.port, "worker_dead_lettered_total").values()) == 4,
            20,
            "the dead letters counted",
            [worker.log],
        )
        counts = metric(worker.port, "worker_dead_lettered_total")
    finally:
        worker.stop()
    assert counts == {
        '{reason="check_violation"}': 2,
        '{reason="undecodable"}': 1,
        '{reason="malformed"}': 1,
    }
    letters = await letters_with_values(bootstrap, worker_env["RA_WORKER_DEAD_LETTER_TOPIC"], 4)
    reasons = sorted(reason.split(":")[0] for _, reason, _, _ in letters)
    assert len(letters) == 4 and len({source for source, _, _, _ in letters}) == 4
    assert reasons[0].startswith("check_violation") and reasons[1].startswith("check_violation")
    # Each carries the record as sent, and the request that appended it: the refused ones
    # too, whose bytes the worker let go once decoded and read back from the topic.
    sent = sorted(value for _, value in items[100:104])
    assert sorted(value for _, _, value, _ in letters) == sent
    assert all(headers[REQUEST_ID_HEADER] == b"edge-7" for _, _, _, headers in letters)
    assert_projections(database, good)


# Long (about 55 s): `make faults`; the isolation itself is tested in-process (test_sink_poison.py).
@pytest.mark.long
async def test_kill_9_while_isolating_applies_every_good_record_exactly_once(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    big, small = await make_project("big"), await make_project("small")
    refuse_poison(database)
    records = generate([big, small], 40_000, seed=21, users=2000, days=0.1)
    now = datetime.now(UTC)
    rng = random.Random(8)
    for n in range(12):  # spread over the log, so several batches split
        records.insert(rng.randrange(len(records)), record(small, "e", now, f"poison-{n}"))
    await produce(services.kafka_bootstrap, kafka_topic, records)
    worker = spawn("w1")
    await kill_then_finish(worker, database, unique_group, len(records), rng, 1.5)
    assert "splitting it" in worker.log.read_text()  # the kills hit isolating workers
    good = [r for r in records if not r.distinct_id.startswith("poison")]
    assert_projections(database, counted(good))
    letters = await dead_letters(
        services.kafka_bootstrap, worker_env["RA_WORKER_DEAD_LETTER_TOPIC"], 12
    )
    # At least once: a kill between the dead-letter append and the commit sends one again.
    assert len({source for source, _ in letters}) == 12
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE distinct_id LIKE 'poison%'")
        assert row.fetchone() == (0,)


async def test_a_record_too_big_to_dead_letter_whole_stalls_nothing(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    # As big as the events topic takes (Kafka's ~1 MB default): with the dead-letter
    # headers added it no longer fits, and a refused append was retried forever.
    bootstrap = services.kafka_bootstrap
    p = await make_project()
    good = [record(p, "e", datetime.now(UTC), f"u{n}") for n in range(20)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2**21)
    await producer.start()
    try:
        for size in range(1_048_520, 1_048_300, -20):  # the largest the broker takes
            try:
                await producer.send_and_wait(kafka_topic, b"x" * size, key=b"k")
                break
            except Exception:  # RecordTooLarge from the broker: a little smaller
                continue
    finally:
        await producer.stop()
    await send(bootstrap, kafka_topic, [keyed(r) for r in good])
    worker = spawn("w1")
    worker.start()
    try:
        await wait_until(
            lambda: applied_offsets(database, unique_group) == 21,
            60,
            "the big record dead-lettered and the rest applied",
            [worker.log],
        )
    finally:
        worker.stop()
    [(source, reason)] = await dead_letters(bootstrap, worker_env["RA_WORKER_DEAD_LETTER_TOPIC"], 1)
    assert source.endswith(":0") and "not JSON" in reason
    assert_projections(database, good)
