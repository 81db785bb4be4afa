"""The App API as a real process for end-to-end tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from migrations.runner import apply_migrations
from tests.fixtures.services import Services
from tests.integration.control_plane.conftest import PASSWORD, mailed_code
from tests.support.testlogs import service_log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def app_url(
    services: Services, pg_schema: str, kafka_topic: str, redis_prefix: str, tmp_path: Path
) -> Iterator[str]:
    apply_migrations(pg_schema)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **services.as_env(),
        "RA_DATABASE_URL": pg_schema,
        "RA_CONTROL_TOPIC": kafka_topic,
        "RA_REDIS_PREFIX": redis_prefix,
        "RA_APP_HOST": "127.0.0.1",
        "RA_APP_PORT": str(port),
        "RA_APP_ORIGINS": url,
        "RA_OUTBOX_POLL_SECONDS": "0.2",
        # Account mails (confirmation codes, invitations) as files the tests read.
        "RA_MAIL_DIR": str(tmp_path / "mail"),
    }
    log_path = service_log("app_api")
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app_api"],
        env=env,
        cwd=services.repo_root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):  # 30 s: a loaded CI machine starts Python slowly
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            pytest.fail("the App API did not become healthy")
        assert process.poll() is None, log_path.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


async def browser_signup(browser: ClientSession, app_url: str, email: str, mail_dir: Path) -> None:
    """Sign up and confirm the address with the mailed code, as a person would; the
    browser keeps the session cookie."""
    response = await browser.post(
        f"{app_url}/api/auth/signup",
        json={"email": email, "password": PASSWORD},
        headers={"Origin": app_url},
    )
    assert response.status == 202, await response.text()
    code = await mailed_code(mail_dir, email, "ra_confirm_")
    response = await browser.post(f"{app_url}/api/auth/confirm", json={"token": code})
    assert response.status == 200, await response.text()
