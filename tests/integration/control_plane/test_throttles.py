"""Throttles of sign-up, login and password-reset requests, by client address.

The tests' client connects from loopback, a trusted proxy by default, so the address it
names in ``X-Forwarded-For`` is the client's address, as behind a real proxy.
"""

import asyncio
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from control_plane.settings import Settings
from tests.integration.control_plane.conftest import PASSWORD, signup, start

pytestmark = pytest.mark.integration


def at(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def login(client: TestClient, email: str, password: str, address: str) -> int:
    response = await client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=at(address)
    )
    if response.status == 429:
        assert 0 < int(response.headers["Retry-After"]) <= 900
        assert await response.json() == {"error": "Too many login attempts"}
    return response.status


async def test_concurrent_guesses_never_pass_the_attempt_limit(settings: Settings) -> None:
    """150 wrong passwords at once, on one account from one address: exactly the limit
    are checked (401), every other one is refused unchecked (429)."""
    limited = replace(
        settings,
        login_failures_per_account_address=10,
        login_failures_per_account=1000,
        login_failures_per_ip=1000,
        password_hash_queue=1000,
    )
    client = await start(limited)
    try:
        email = await signup(client)
        statuses = await asyncio.gather(
            *(login(client, email, "wrong password", "198.51.100.7") for _ in range(150))
        )
    finally:
        await client.close()
    assert statuses.count(401) == 10
    assert statuses.count(429) == 140


async def test_guesses_from_one_address_do_not_lock_the_owner_out(
    app_client: TestClient,
) -> None:
    email = await signup(app_client)
    for _ in range(3):  # login_failures_per_account_address=3 in these settings
        assert await login(app_client, email, "wrong password", "198.51.100.7") == 401
    # That address is now refused, even with the right password...
    assert await login(app_client, email, PASSWORD, "198.51.100.7") == 429
    # ...and the owner, elsewhere, logs in.
    assert await login(app_client, email, PASSWORD, "203.0.113.9") == 200
    # An IPv6 attacker's /64 is one address: rotating within it gains nothing.
    for n in range(3):
        assert await login(app_client, email, "wrong password", f"2001:db8::{n + 1}") == 401
    assert await login(app_client, email, "wrong password", "2001:db8::99") == 429


async def test_the_account_has_a_looser_ceiling_over_all_addresses(
    app_client: TestClient,
) -> None:
    email = await signup(app_client)
    for n in range(6):  # login_failures_per_account=6: two addresses, three guesses each
        assert await login(app_client, email, "wrong password", f"198.51.100.{n // 3 + 1}") == 401
    assert await login(app_client, email, PASSWORD, "203.0.113.9") == 429


async def test_one_address_guessing_many_accounts_is_stopped(app_client: TestClient) -> None:
    email = await signup(app_client)
    for n in range(5):  # login_failures_per_ip=5, spread over accounts
        assert await login(app_client, f"x{n}@example.com", "wrong password", "198.51.100.7") == 401
    assert await login(app_client, email, PASSWORD, "198.51.100.7") == 429
    assert await login(app_client, email, PASSWORD, "203.0.113.9") == 200


async def test_a_success_does_not_count_and_clears_the_pair(app_client: TestClient) -> None:
    email = await signup(app_client)
    # Four failures from the pair in all (its limit is 3), the owner's logins between.
    for _ in range(2):
        assert await login(app_client, email, "wrong password", "198.51.100.7") == 401
        assert await login(app_client, email, "wrong password", "198.51.100.7") == 401
        assert await login(app_client, email, PASSWORD, "198.51.100.7") == 200


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(settings: Settings) -> None:
    client = await start(replace(settings, trusted_proxies=()))
    try:
        email = await signup(client)
        for n in range(3):  # a new forged address each time: still one client
            assert await login(client, email, "wrong password", f"198.51.100.{n}") == 401
        assert await login(client, email, PASSWORD, "203.0.113.9") == 429
    finally:
        await client.close()


async def signup_status(client: TestClient, n: int, address: str) -> int:
    response = await client.post(
        "/api/auth/signup",
        json={"email": f"new{n}@example.com", "password": PASSWORD},
        headers=at(address),
    )
    if response.status == 429:
        assert 0 < int(response.headers["Retry-After"]) <= 3600
        assert await response.json() == {"error": "Too many sign-ups"}
    return response.status


async def test_signup_is_throttled_per_address_and_globally(settings: Settings) -> None:
    client = await start(replace(settings, signups_per_address=3, signups_total=5))
    try:
        statuses = await asyncio.gather(
            *(signup_status(client, n, "198.51.100.7") for n in range(10))
        )
        assert sorted(statuses) == [202] * 3 + [429] * 7
        assert await signup_status(client, 10, "203.0.113.9") == 202
        assert await signup_status(client, 11, "203.0.113.10") == 202
        # Five in all: the next address, never seen before, waits too.
        assert await signup_status(client, 12, "203.0.113.11") == 429
    finally:
        await client.close()


async def test_password_reset_requests_are_throttled(settings: Settings) -> None:
    client = await start(replace(settings, resets_per_address=4, resets_per_email=2))
    try:

        async def ask(email: str, address: str) -> int:
            response = await client.post(
                "/api/auth/password-reset", json={"email": email}, headers=at(address)
            )
            return response.status

        # Per address (whether or not the emails have accounts).
        assert [await ask(f"r{n}@example.com", "198.51.100.7") for n in range(5)] == [
            202,
            202,
            202,
            202,
            429,
        ]
        # Per email, so nobody's inbox can be flooded from many addresses.
        assert [await ask("victim@example.com", f"203.0.113.{n}") for n in range(3)] == [
            202,
            202,
            429,
        ]
    finally:
        await client.close()
