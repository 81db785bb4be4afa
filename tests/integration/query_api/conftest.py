"""A tenant world for the query API: a schema with migrations, two projects and their
members, sessions in Redis, rollups filled by the stream workers' own sink."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from contracts.events import EventRecord
from contracts.sessions import Session, encode_session, new_token, session_key
from migrations.runner import apply_migrations
from query_api.app import create_standalone_app
from query_api.settings import Settings
from stream_workers.metrics import Metrics
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.sink import Sink
from tests.fixtures.services import Services, unique_suffix
from tests.integration.stream_workers.conftest import as_raw
from tests.support.projects import new_project

CONSUMER = "query-tests"
ORIGIN = "http://app.test"


@dataclass(frozen=True)
class World:
    database: str
    redis_url: str
    prefix: str
    project: str  # id of project A (slug "alpha")
    other: str  # id of project B (slug "beta"), the user is not a member
    user: str
    cookie: str  # session id of the user (member of A only)

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database,
            redis_url=self.redis_url,
            redis_prefix=self.prefix,
            worker_group=CONSUMER,
            app_origins=(ORIGIN,),
        )


async def fill(
    world: World, records: Sequence[EventRecord], services: Services, skip: int = 0
) -> None:
    """Apply records as the stream workers do: raw rows, rollups, breakdowns, offsets."""
    conn = await psycopg.AsyncConnection.connect(world.database, autocommit=True)
    client = Redis.from_url(services.redis_url)

    async def nowhere(items: object) -> None:
        raise AssertionError(f"dead-lettered: {items}")

    sink = Sink(
        conn,
        client,
        consumer=CONSUMER,
        topic="events",
        redis_prefix=world.prefix,
        dead_letter=nowhere,
        keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
        metrics=Metrics(),
    )
    await sink.start()
    raws = as_raw(records)[skip:]  # the first ``skip`` were applied before
    for start in range(0, len(raws), 2000):
        await sink.apply(raws[start : start + 2000])
    await conn.close()
    await client.aclose()


def make_world(services: Services, schema_url: str, prefix: str) -> World:
    apply_migrations(schema_url)

    async def projects() -> tuple[str, str]:
        a = await new_project(schema_url, "alpha", "pro")
        b = await new_project(schema_url, "beta", "pro")
        return a.id, b.id

    alpha, beta = asyncio.run(projects())
    user = str(uuid.uuid4())
    with psycopg.connect(schema_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user, f"{user}@example.test"),
        )
        conn.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'member')",
            (alpha, user),
        )
    cookie = new_token()
    with redis.Redis.from_url(services.redis_url) as client:
        session = Session(user, f"{user}@example.test", datetime.now(UTC))
        client.set(session_key(prefix, cookie), encode_session(session), ex=3600)
    return World(schema_url, services.redis_url, prefix, alpha, beta, user, cookie)


@pytest.fixture(scope="module")
def module_world(services: Services) -> Iterator[World]:
    """One schema for a whole module: its tests only read (filling once keeps them quick)."""
    schema = f"t_{unique_suffix()}"
    prefix = f"t:{unique_suffix()}:"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # generated name, not user input
    separator = "&" if "?" in services.database_url else "?"
    url = f"{services.database_url}{separator}options=-csearch_path%3D{schema}"
    yield make_world(services, url, prefix)
    with redis.Redis.from_url(services.redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '30s'")
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


async def start_client(world: World, settings: Settings | None = None) -> TestClient:
    app = create_standalone_app(settings or world.settings())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(module_world: World) -> AsyncIterator[TestClient]:
    c = await start_client(module_world)
    yield c
    await c.close()
