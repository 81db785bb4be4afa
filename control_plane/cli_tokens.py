"""The CLI token flow: one-time login tokens exchanged once for revocable access tokens.

Both are random 256-bit tokens stored as SHA-256 digests. The exchange is one conditional
UPDATE, so two concurrent exchanges of one token cannot both succeed. An access token is
checked on each request by ``common.auth``.
"""

from datetime import timedelta

from psycopg import AsyncConnection

from contracts.sessions import (
    ACCESS_TOKEN_PREFIX,
    LOGIN_TOKEN_PREFIX,
    new_token,
    token_digest,
)


async def create_login_token(conn: AsyncConnection, user_id: str, ttl_seconds: int) -> str:
    token = new_token(LOGIN_TOKEN_PREFIX)
    await conn.execute(
        "INSERT INTO cli_login_tokens (token_hash, user_id, expires_at)"
        " VALUES (%s, %s, now() + %s)",
        (token_digest(token), user_id, timedelta(seconds=ttl_seconds)),
    )
    return token


async def exchange_login_token(conn: AsyncConnection, token: str) -> str | None:
    """A new access token for the login token's user, or ``None`` when the login token is
    unknown, expired or already used."""
    async with conn.transaction():
        cursor = await conn.execute(
            "UPDATE cli_login_tokens SET used_at = now()"
            " WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()"
            " RETURNING user_id",
            (token_digest(token),),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        access_token = new_token(ACCESS_TOKEN_PREFIX)
        await conn.execute(
            "INSERT INTO cli_access_tokens (token_hash, user_id) VALUES (%s, %s)",
            (token_digest(access_token), row[0]),
        )
    return access_token


async def revoke_access_token(conn: AsyncConnection, token: str) -> bool:
    cursor = await conn.execute(
        "UPDATE cli_access_tokens SET revoked_at = now()"
        " WHERE token_hash = %s AND revoked_at IS NULL",
        (token_digest(token),),
    )
    return cursor.rowcount == 1
