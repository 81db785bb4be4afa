from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control_plane.app import create_standalone_app
from control_plane.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services, unique_suffix

ORIGIN = "http://app.test"
PASSWORD = "correct horse battery"


@pytest.fixture
def database(pg_schema: str) -> str:
    apply_migrations(pg_schema)
    return pg_schema


@pytest.fixture
def settings(services: Services, database: str, kafka_topic: str, redis_prefix: str) -> Settings:
    return Settings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        control_topic=kafka_topic,
        redis_prefix=redis_prefix,
        app_origins=(ORIGIN,),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        login_failures_per_account=3,
        login_failures_per_ip=5,
        relay_enabled=False,  # tests that publish turn it on
        relay_poll_seconds=0.1,
    )


async def start(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_standalone_app(settings), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[TestClient]:
    client = await start(settings)
    yield client
    await client.close()


@pytest.fixture
async def client_for(settings: Settings) -> AsyncIterator[Callable[[], Awaitable[TestClient]]]:
    """Another client of a server with the same settings (another browser, another user)."""
    clients: list[TestClient] = []

    async def make() -> TestClient:
        client = await start(settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def signup(client: TestClient, email: str | None = None) -> str:
    """Sign up (the client keeps the session cookie); return the email."""
    email = email or f"u{unique_suffix()}@example.com"
    response = await client.post(
        "/api/auth/signup", json={"email": email, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status == 201, await response.text()
    return email


async def cli_access_token(client: TestClient) -> str:
    response = await client.post("/api/cli/tokens", headers={"Origin": ORIGIN})
    assert response.status == 201, await response.text()
    token = (await response.json())["token"]
    response = await client.post("/api/cli/validate", json={"token": token})
    assert response.status == 201, await response.text()
    return str((await response.json())["accessToken"])
