import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from control_plane.app import create_standalone_app
from control_plane.app_keys import SETTINGS
from control_plane.operators import grant
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
def settings(
    services: Services, database: str, kafka_topic: str, redis_prefix: str, tmp_path: Path
) -> Settings:
    return Settings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        control_topic=kafka_topic,
        redis_prefix=redis_prefix,
        app_origins=(ORIGIN,),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        login_failures_per_account_address=3,
        login_failures_per_account=6,
        login_failures_per_ip=5,
        mail_dir=str(tmp_path / "mail"),
        public_url=ORIGIN,
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


def settings_of(client: TestClient) -> Settings:
    """The settings of the control plane the client talks to (mounted under the root)."""
    for resource in client.app.router.resources() if client.app else ():
        app = getattr(resource, "_app", None)
        if isinstance(app, web.Application) and SETTINGS in app:
            return app[SETTINGS]
    raise LookupError("no control plane mounted")


def mail_files(mail_dir: Path) -> list[Path]:
    return sorted(mail_dir.glob("*.eml")) if mail_dir.exists() else []


def mails_to(mail_dir: Path, address: str) -> list[EmailMessage]:
    """The messages written to ``address`` so far, oldest first."""
    found = []
    for path in mail_files(mail_dir):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if str(message["To"]).lower() == address.lower():
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


def mailed_codes(mail_dir: Path, address: str, prefix: str) -> list[str]:
    """The codes (``ra_confirm_…``, ``ra_reset_…``, ``ra_invite_…``) mailed to
    ``address`` so far, oldest first."""
    pattern = re.compile(re.escape(prefix) + r"[A-Za-z0-9_-]+")
    return [
        found.group(0)
        for message in mails_to(mail_dir, address)
        if (found := pattern.search(message.get_content()))
    ]


async def mailed_code(mail_dir: Path, address: str, prefix: str, already: int = 0) -> str:
    """The code of the message to ``address`` after the first ``already`` ones with such
    a code, waiting for it (mail goes out in the background)."""
    for _ in range(100):
        codes = mailed_codes(mail_dir, address, prefix)
        if len(codes) > already:
            return codes[already]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail with a {prefix} code to {address}")


async def signup(client: TestClient, email: str | None = None) -> str:
    """Sign up and confirm the address from the mail (the client keeps the session
    cookie); return the email."""
    email = email or f"u{unique_suffix()}@example.com"
    mail_dir = Path(settings_of(client).mail_dir)
    already = len(mailed_codes(mail_dir, email, "ra_confirm_"))
    response = await client.post(
        "/api/auth/signup", json={"email": email, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status == 202, await response.text()
    code = await mailed_code(mail_dir, email, "ra_confirm_", already)
    response = await client.post("/api/auth/confirm", json={"token": code})
    assert response.status == 200, await response.text()
    return email


async def cli_access_token(client: TestClient) -> str:
    response = await client.post("/api/cli/tokens", headers={"Origin": ORIGIN})
    assert response.status == 201, await response.text()
    token = (await response.json())["token"]
    response = await client.post("/api/cli/validate", json={"token": token})
    assert response.status == 201, await response.text()
    return str((await response.json())["accessToken"])


def grant_operator(database: str, email: str) -> None:
    """What ``python -m control_plane operators grant EMAIL`` does (tested there)."""
    with psycopg.connect(database, autocommit=True) as conn:
        grant(conn, email)
