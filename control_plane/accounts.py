"""Users: sign-up and the look-ups login and authentication need (parameterized SQL only)."""

from dataclasses import dataclass

from psycopg import AsyncConnection, errors

from control_plane.errors import Conflict


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str


async def create_user(conn: AsyncConnection, email: str, password_hash: str) -> User:
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


async def find_login(conn: AsyncConnection, email: str) -> tuple[User, str] | None:
    """The user with this email (any case) and their password hash."""
    cursor = await conn.execute(
        "SELECT id::text, email, password_hash FROM users WHERE lower(email) = lower(%s)",
        (email.strip(),),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return User(id=str(row[0]), email=str(row[1])), str(row[2])


async def find_user(conn: AsyncConnection, user_id: str) -> User | None:
    cursor = await conn.execute("SELECT id::text, email FROM users WHERE id = %s", (user_id,))
    row = await cursor.fetchone()
    return None if row is None else User(id=str(row[0]), email=str(row[1]))
