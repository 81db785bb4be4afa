"""Users: sign-up with a confirmed address, one-time codes by mail, and the look-ups login
and authentication need (parameterized SQL only)."""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from psycopg import AsyncConnection, errors

from contracts.sessions import new_token, token_digest
from control_plane.errors import Conflict

CONFIRM_PREFIX = "ra_confirm_"
RESET_PREFIX = "ra_reset_"


class Purpose(StrEnum):
    CONFIRM = "confirm"
    RESET = "reset"


_PREFIXES = {Purpose.CONFIRM: CONFIRM_PREFIX, Purpose.RESET: RESET_PREFIX}


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    password_hash: str
    confirmed: bool


@dataclass(frozen=True, slots=True)
class Registration:
    """What a sign-up did: a code to mail to a new (or still unconfirmed) account, or
    ``None`` when the address already has a confirmed account (it gets a notice)."""

    user: User
    confirm_token: str | None


async def create_user(conn: AsyncConnection, email: str, password_hash: str) -> User:
    """A confirmed account (operators' tools, fixtures); sign-up uses ``register``."""
    try:
        async with conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, %s) RETURNING id::text",
                (email.strip(), password_hash),
            )
            row = await cursor.fetchone()
    except errors.UniqueViolation as exc:
        raise Conflict("An account with this email already exists") from exc
    assert row is not None
    return User(id=str(row[0]), email=email.strip())


async def register(
    conn: AsyncConnection, email: str, password_hash: str, ttl_seconds: int
) -> Registration:
    """Sign-up: a new unconfirmed account, or a still unconfirmed one given this password
    (whoever confirms the address owns it), each with a fresh confirmation code; a
    confirmed account is left alone."""
    email = email.strip()
    async with conn.transaction():
        cursor = await conn.execute(
            "INSERT INTO users (email, password_hash, email_confirmed_at) VALUES (%s, %s, NULL)"
            " ON CONFLICT ((lower(email))) DO NOTHING RETURNING id::text, email",
            (email, password_hash),
        )
        row = await cursor.fetchone()
        if row is None:
            cursor = await conn.execute(
                "SELECT id::text, email, email_confirmed_at IS NOT NULL FROM users"
                " WHERE lower(email) = lower(%s) FOR UPDATE",
                (email,),
            )
            found = await cursor.fetchone()
            assert found is not None  # the conflicting row exists: no deletes race sign-up
            if found[2]:
                return Registration(User(str(found[0]), str(found[1])), None)
            await conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, found[0])
            )
            row = found[:2]
        user = User(str(row[0]), str(row[1]))
        token = await issue_token(conn, user.id, Purpose.CONFIRM, ttl_seconds)
    return Registration(user, token)


async def issue_token(
    conn: AsyncConnection, user_id: str, purpose: Purpose, ttl_seconds: int
) -> str:
    token = new_token(_PREFIXES[purpose])
    await conn.execute(
        "INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at)"
        " VALUES (%s, %s, %s, now() + %s)",
        (token_digest(token), user_id, purpose.value, timedelta(seconds=ttl_seconds)),
    )
    return token


async def _use_token(conn: AsyncConnection, token: str, purpose: Purpose) -> User | None:
    """Spend a code (one conditional UPDATE: two concurrent uses cannot both succeed)."""
    cursor = await conn.execute(
        "UPDATE account_tokens t SET used_at = now() FROM users u"
        " WHERE t.token_hash = %s AND t.purpose = %s AND t.used_at IS NULL"
        " AND t.expires_at > now() AND u.id = t.user_id RETURNING u.id::text, u.email",
        (token_digest(token), purpose.value),
    )
    row = await cursor.fetchone()
    return None if row is None else User(str(row[0]), str(row[1]))


async def confirm_email(conn: AsyncConnection, token: str) -> User | None:
    async with conn.transaction():
        user = await _use_token(conn, token, Purpose.CONFIRM)
        if user is not None:
            await conn.execute(
                "UPDATE users SET email_confirmed_at = coalesce(email_confirmed_at, now())"
                " WHERE id = %s",
                (user.id,),
            )
    return user


async def reset_password(conn: AsyncConnection, token: str, password_hash: str) -> User | None:
    """Set the new password (which also confirms the address: the code came by mail),
    spend the account's other codes and revoke its CLI access tokens."""
    async with conn.transaction():
        user = await _use_token(conn, token, Purpose.RESET)
        if user is None:
            return None
        await conn.execute(
            "UPDATE users SET password_hash = %s,"
            " email_confirmed_at = coalesce(email_confirmed_at, now()) WHERE id = %s",
            (password_hash, user.id),
        )
        await conn.execute(
            "UPDATE account_tokens SET used_at = now() WHERE user_id = %s AND used_at IS NULL",
            (user.id,),
        )
        await conn.execute(
            "UPDATE cli_access_tokens SET revoked_at = now()"
            " WHERE user_id = %s AND revoked_at IS NULL",
            (user.id,),
        )
    return user


async def find_login(conn: AsyncConnection, email: str) -> Login | None:
    """The user with this email (any case), their password hash and whether the address
    is confirmed."""
    cursor = await conn.execute(
        "SELECT id::text, email, password_hash, email_confirmed_at IS NOT NULL FROM users"
        " WHERE lower(email) = lower(%s)",
        (email.strip(),),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return Login(User(id=str(row[0]), email=str(row[1])), str(row[2]), bool(row[3]))


async def find_user(conn: AsyncConnection, user_id: str) -> User | None:
    cursor = await conn.execute("SELECT id::text, email FROM users WHERE id = %s", (user_id,))
    row = await cursor.fetchone()
    return None if row is None else User(id=str(row[0]), email=str(row[1]))
