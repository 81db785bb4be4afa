"""Sign-up, login and password-reset answers tell nobody whether an email has an account:
the same status and body, no cookie either way, and the same timing class (the password
hash is the same work on every path; mails go out in the background)."""

import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import PASSWORD, mails_to, signup, start

pytestmark = pytest.mark.integration
ROUNDS = 8


async def answer(
    client: TestClient, path: str, body: dict[str, Any]
) -> tuple[int, Any, bool, float]:
    started = time.perf_counter()
    response = await client.post(path, json=body)
    elapsed = time.perf_counter() - started
    return response.status, await response.json(), "Set-Cookie" in response.headers, elapsed


def same_timing_class(known: list[float], unknown: list[float]) -> bool:
    """Medians within a factor of two of each other (a difference an attacker could use
    is a whole password hash, or a database round trip against none)."""
    a, b = statistics.median(known), statistics.median(unknown)
    return max(a, b) <= 2 * min(a, b) + 0.005


@pytest.fixture
async def production_cost(settings: Settings) -> Any:
    """The deployed argon2id cost (19 MiB, t=2), so the hash dominates as it does live."""
    client = await start(
        replace(
            settings,
            argon2_time_cost=2,
            argon2_memory_kib=19 * 1024,
            signups_per_address=1000,
            login_failures_per_account_address=1000,
            login_failures_per_account=1000,
            login_failures_per_ip=1000,
            resets_per_address=1000,
            resets_per_email=1000,
        )
    )
    yield client
    await client.close()


async def test_signup_answers_alike_for_new_and_existing_emails(
    production_cost: TestClient, settings: Settings
) -> None:
    client = production_cost
    taken = await signup(client, "taken@example.com")
    client.session.cookie_jar.clear()
    known, unknown = [], []
    for n in range(ROUNDS):
        other = {"email": taken.upper(), "password": f"another fine passphrase {n}"}
        status, body, cookie, elapsed = await answer(client, "/api/auth/signup", other)
        known.append(elapsed)
        fresh = {"email": f"fresh{n}@example.com", "password": PASSWORD}
        status2, body2, cookie2, elapsed2 = await answer(client, "/api/auth/signup", fresh)
        unknown.append(elapsed2)
        assert (status, body, cookie) == (status2, body2, cookie2) == (202, body, False)
    assert same_timing_class(known, unknown), (known, unknown)
    # The difference is told only to the address's owner, by mail.
    mail_dir = Path(settings.mail_dir)
    assert len(mails_to(mail_dir, "taken@example.com")) == 1 + ROUNDS


async def test_login_answers_alike_for_unknown_emails_and_wrong_passwords(
    production_cost: TestClient,
) -> None:
    client = production_cost
    email = await signup(client)
    client.session.cookie_jar.clear()
    known, unknown = [], []
    for n in range(ROUNDS):
        wrong = {"email": email, "password": f"wrong password {n}"}
        status, body, cookie, elapsed = await answer(client, "/api/auth/login", wrong)
        known.append(elapsed)
        nobody = {"email": f"nobody{n}@example.com", "password": f"wrong password {n}"}
        status2, body2, cookie2, elapsed2 = await answer(client, "/api/auth/login", nobody)
        unknown.append(elapsed2)
        assert (status, body, cookie) == (status2, body2, cookie2)
        assert (status, body) == (401, {"error": "Invalid email or password"})
    assert same_timing_class(known, unknown), (known, unknown)


async def test_password_reset_answers_alike_and_mails_only_an_account(
    production_cost: TestClient, settings: Settings
) -> None:
    client = production_cost
    email = await signup(client)
    known, unknown = [], []
    for n in range(ROUNDS):
        status, body, _, elapsed = await answer(
            client, "/api/auth/password-reset", {"email": email}
        )
        known.append(elapsed)
        status2, body2, _, elapsed2 = await answer(
            client, "/api/auth/password-reset", {"email": f"nobody{n}@example.com"}
        )
        unknown.append(elapsed2)
        assert (status, body) == (status2, body2)
        assert status == 202
    assert same_timing_class(known, unknown), (known, unknown)
    assert mails_to(Path(settings.mail_dir), "nobody0@example.com") == []
