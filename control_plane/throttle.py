"""Throttles of the account routes: login, sign-up and password-reset requests.

Login follows OWASP's authentication guidance: failures are counted per (account, client
address) with a tight limit, per account with a looser ceiling and per address across
accounts (password spraying). So someone guessing from one address locks only that pair
out, and the owner still logs in from their own address; only many addresses together
reach the account's ceiling. Each attempt is counted before its password is checked
(``common.throttle``: check and count are one step), so concurrent guesses cannot pass
the limit; an attempt that succeeds is given back.

Sign-up is counted per client address and globally; password-reset requests per address
and per email (so nobody's inbox can be flooded). Every request counts, whether or not
the email has an account, so a 429 says nothing about which emails exist.
"""

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

from common.client_address import throttle_address
from common.throttle import AttemptCounters, Counter


@dataclass(frozen=True, slots=True)
class LoginLimits:
    window_seconds: int = 900
    per_account_address: int = 10
    per_account: int = 100
    per_address: int = 50


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Requests per window: from one address, and overall (sign-up) or per email (reset)."""

    window_seconds: int = 3600
    per_address: int = 20
    per_scope: int = 1000


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    pair_key: str
    shared_keys: tuple[str, ...]


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def login_counters(prefix: str, email: str, address: str, limits: LoginLimits) -> list[Counter]:
    account, where = email_digest(email), throttle_address(address)
    return [
        Counter(f"{prefix}login:pair:{account}:{where}", limits.per_account_address),
        Counter(f"{prefix}login:account:{account}", limits.per_account),
        Counter(f"{prefix}login:address:{where}", limits.per_address),
    ]


class AccountThrottles:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        login: LoginLimits,
        signup: RequestLimits,
        reset: RequestLimits,
    ) -> None:
        self._counters = AttemptCounters(redis)
        self._prefix = prefix
        self._login = login
        self._signup = signup
        self._reset = reset

    async def login_attempt(self, email: str, address: str) -> LoginAttempt | int:
        """The counted attempt, or the seconds to wait before one is allowed."""
        counters = login_counters(self._prefix, email, address, self._login)
        wait = await self._counters.acquire(counters, self._login.window_seconds)
        if wait is not None:
            return wait
        return LoginAttempt(counters[0].key, tuple(c.key for c in counters[1:]))

    async def login_succeeded(self, attempt: LoginAttempt) -> None:
        """The right password: this attempt does not count, and the pair starts afresh."""
        await self._counters.refund(attempt.shared_keys)
        await self._counters.clear([attempt.pair_key])

    async def login_refund(self, attempt: LoginAttempt) -> None:
        """The password was never checked (the service was too busy): nothing counts."""
        await self._counters.refund([attempt.pair_key, *attempt.shared_keys])

    async def signup_attempt(self, address: str) -> int | None:
        limits, where = self._signup, throttle_address(address)
        counters = [
            Counter(f"{self._prefix}signup:address:{where}", limits.per_address),
            Counter(f"{self._prefix}signup:all", limits.per_scope),
        ]
        return await self._counters.acquire(counters, limits.window_seconds)

    async def reset_attempt(self, email: str, address: str) -> int | None:
        limits, where = self._reset, throttle_address(address)
        counters = [
            Counter(f"{self._prefix}reset:address:{where}", limits.per_address),
            Counter(f"{self._prefix}reset:email:{email_digest(email)}", limits.per_scope),
        ]
        return await self._counters.acquire(counters, limits.window_seconds)
