from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from contracts.events import EventRecord, encode_record
from contracts.lanes import Lane, lane_group, lane_topic
from migrations.runner import apply_migrations
from stream_workers.metrics import Metrics
from stream_workers.received import RawRecord
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.sink import Sink
from tests.integration.stream_workers.workers import WorkerProcess
from tests.support.projects import new_project
from tests.support.testlogs import service_log


@pytest.fixture
def database(pg_schema: str) -> str:
    apply_migrations(pg_schema)
    return pg_schema


@pytest.fixture
def make_project(database: str) -> Callable[..., Any]:
    async def make(slug: str = "acme", plan: str = "pro", limit: int | None = None) -> str:
        project = await new_project(database, slug, plan)
        if limit is not None:
            with psycopg.connect(database, autocommit=True) as conn:
                conn.execute(
                    "UPDATE projects SET monthly_event_limit = %s WHERE id = %s",
                    (limit, project.id),
                )
        return project.id

    return make


class DeadLetters(list[tuple[RawRecord, str]]):
    async def __call__(self, items: Sequence[tuple[RawRecord, str]]) -> None:
        self.extend(items)


@pytest.fixture
def dead_letters() -> DeadLetters:
    return DeadLetters()


@pytest.fixture
async def open_sink(
    services: Any, database: str, redis_prefix: str, dead_letters: DeadLetters
) -> AsyncIterator[Callable[..., Awaitable[Sink]]]:
    """Sinks on connections of their own, as separate workers have; closed at the end."""
    closing: list[Callable[[], Awaitable[None]]] = []

    async def open_one(lane: Lane = Lane.MAIN, topic: str = "events") -> Sink:
        conn = await psycopg.AsyncConnection.connect(database, autocommit=True)
        redis = Redis.from_url(services.redis_url)
        closing.extend([conn.close, redis.aclose])
        sink = Sink(
            conn,
            redis,
            consumer=lane_group("test", lane),
            topic=lane_topic(lane, topic),
            redis_prefix=redis_prefix,
            dead_letter=dead_letters,
            keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
            metrics=Metrics(),
            lane=lane,
        )
        await sink.start()
        return sink

    yield open_one
    for close in closing:
        await close()


@pytest.fixture
async def sink(open_sink: Callable[..., Awaitable[Sink]]) -> Sink:
    return await open_sink()


def as_raw(records: Sequence[EventRecord], partitions: int = 3) -> list[RawRecord]:
    """Spread records over partitions as Kafka would (by key), with per-partition offsets."""
    next_offset: dict[int, int] = {}
    raws = []
    for r in records:
        partition = hash((r.project_id, r.distinct_id)) % partitions
        offset = next_offset.get(partition, 0)
        next_offset[partition] = offset + 1
        raws.append(RawRecord(partition, offset, encode_record(r)))
    return raws


@pytest.fixture
async def worker_env(services, database, kafka_topic, unique_group, redis_prefix, tmp_path):
    env = {
        **services.as_env(),
        "RA_DATABASE_URL": database,
        "RA_EVENTS_TOPIC": kafka_topic,
        "RA_CONTROL_TOPIC": f"{kafka_topic}-control",
        "RA_WORKER_DEAD_LETTER_TOPIC": f"{kafka_topic}-dlq",
        "RA_WORKER_GROUP": unique_group,
        "RA_REDIS_PREFIX": redis_prefix,
        "RA_WORKER_DATA_DIR": str(tmp_path / "faust"),
        "RA_WORKER_BATCH_SECONDS": "0.3",
    }
    yield env
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        mine = [
            t for t in await admin.list_topics() if t.startswith((unique_group, kafka_topic + "-"))
        ]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture
def spawn(worker_env, tmp_path, services):  # type: ignore[no-untyped-def]
    def make(name: str, lane: str = "main", **extra: str) -> WorkerProcess:
        env = {
            **worker_env,
            "RA_WORKER_INSTANCE_ID": name,
            "RA_WORKER_LANE": lane,
            "RA_WORKER_DATA_DIR": str(tmp_path / f"faust-{name}"),
            **extra,
        }
        return WorkerProcess(env, service_log(f"worker-{name}"), services.repo_root)

    return make
