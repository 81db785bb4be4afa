"""Login throttling: failed attempts counted per account and per client IP in Redis.

A fixed window per counter (``login_window_seconds``, started by the first failure); a
success clears the account's counter. Only failures count, so a user who types the right
password is never slowed down by their own earlier successes.
"""

import hashlib

from redis.asyncio import Redis


def is_blocked(account_failures: int, ip_failures: int, per_account: int, per_ip: int) -> bool:
    return account_failures >= per_account or ip_failures >= per_ip


class LoginThrottle:
    def __init__(
        self, redis: Redis, prefix: str, window_seconds: int, per_account: int, per_ip: int
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._window = window_seconds
        self._per_account = per_account
        self._per_ip = per_ip

    def _keys(self, email: str, ip: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return f"{self._prefix}login:account:{account}", f"{self._prefix}login:ip:{ip}"

    async def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds until the next attempt is allowed, or ``None`` when it is allowed now."""
        account_key, ip_key = self._keys(email, ip)
        account, by_ip = await self._redis.mget(account_key, ip_key)
        if not is_blocked(int(account or 0), int(by_ip or 0), self._per_account, self._per_ip):
            return None
        ttls = [await self._redis.ttl(account_key), await self._redis.ttl(ip_key)]
        return max([t for t in ttls if t > 0], default=self._window)

    async def failed(self, email: str, ip: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._keys(email, ip):
                pipe.incr(key)
                pipe.expire(key, self._window, nx=True)
            await pipe.execute()

    async def succeeded(self, email: str, ip: str) -> None:
        await self._redis.delete(self._keys(email, ip)[0])
