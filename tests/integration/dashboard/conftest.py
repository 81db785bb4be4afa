"""The dashboard app on its own, on the real PostgreSQL, Redis and Kafka."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from contracts.sessions import Session, encode_session, new_token, session_key
from control_plane.operators import grant
from dashboard.app import create_standalone_app
from dashboard.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services


async def client_for(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await client.start_server()
    return client


@dataclass(frozen=True, slots=True)
class LoggedIn:
    user_id: str
    session_id: str


def log_in(services: Services, pg_schema: str, redis_prefix: str, operator: bool) -> LoggedIn:
    """A new user with an app session (an operator, or a plain user)."""
    apply_migrations(pg_schema)
    email = f"{'ops' if operator else 'user'}-{new_token()[:8]}@example.test"
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id::text",
            (email,),
        ).fetchone()
        assert row is not None
        if operator:
            grant(conn, email)
    session_id = new_token()
    with redis.Redis.from_url(services.redis_url) as client:
        session = Session(str(row[0]), email, datetime.now(UTC))
        client.set(session_key(redis_prefix, session_id), encode_session(session), ex=600)
    return LoggedIn(str(row[0]), session_id)


def session_of(services: Services, pg_schema: str, redis_prefix: str, operator: bool) -> str:
    """A logged-in user's session id (an operator's, or a plain user's)."""
    return log_in(services, pg_schema, redis_prefix, operator).session_id


@pytest.fixture
async def client(
    services: Services, pg_schema: str, kafka_topic: str, unique_group: str, redis_prefix: str
) -> AsyncIterator[TestClient]:
    apply_migrations(pg_schema)
    settings = Settings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=redis_prefix,
        worker_group=unique_group,
        events_topic=kafka_topic,
        dead_letter_topic=f"{kafka_topic}-dlq",
    )
    c = await client_for(settings)
    yield c
    await c.close()
