"""One Redis client factory for every service: a bounded pool that waits, then fails fast.

redis-py's default pool refuses the 101st concurrent command with "Too many connections";
a ``BlockingConnectionPool`` instead queues it for up to ``pool_timeout_seconds`` and then
raises ``redis.exceptions.ConnectionError``, which the services answer as a 503 with
Retry-After (``common.unavailable``).
"""

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 64
POOL_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 2.0


def create_redis(
    url: str,
    max_connections: int = MAX_CONNECTIONS,
    pool_timeout_seconds: float = POOL_TIMEOUT_SECONDS,
    socket_timeout_seconds: float = SOCKET_TIMEOUT_SECONDS,
) -> Redis:
    """A client owning its pool (``await client.aclose()`` closes both)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout_seconds,
        socket_timeout=socket_timeout_seconds,
        socket_connect_timeout=socket_timeout_seconds,
    )
    return Redis.from_pool(pool)
