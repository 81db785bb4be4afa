"""Browser sessions in Redis (the shape is in ``contracts.sessions``, shared with the query API)."""

from datetime import UTC, datetime

from redis.asyncio import Redis

from contracts.sessions import Session, decode_session, encode_session, new_token, session_key


class SessionStore:
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    async def create(self, user_id: str, email: str) -> str:
        """Store a new session; return its id (for the cookie, never stored in clear)."""
        session_id = new_token()
        session = Session(user_id=user_id, email=email, created_at=datetime.now(UTC))
        await self._redis.set(
            session_key(self._prefix, session_id), encode_session(session), ex=self._ttl
        )
        return session_id

    async def get(self, session_id: str) -> Session | None:
        raw = await self._redis.get(session_key(self._prefix, session_id))
        return decode_session(raw)

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(session_key(self._prefix, session_id))
