"""Operators: the role that changes plans and limits and reads the ops view.

Granted only here, from the server's command line (``python -m control_plane operators
grant|revoke|list``), with the database's own credentials: no API route can grant it.
"""

from datetime import datetime

from psycopg import Connection


class NoSuchUser(Exception):
    pass


def _user_id(conn: Connection, email: str) -> str:
    row = conn.execute(
        "SELECT id::text FROM users WHERE lower(email) = lower(%s)", (email.strip(),)
    ).fetchone()
    if row is None:
        raise NoSuchUser(email)
    return str(row[0])


def grant(conn: Connection, email: str) -> bool:
    """Make the user with ``email`` an operator; ``False`` when they already were."""
    cursor = conn.execute(
        "INSERT INTO operators (user_id) VALUES (%s) ON CONFLICT DO NOTHING",
        (_user_id(conn, email),),
    )
    return cursor.rowcount == 1


def revoke(conn: Connection, email: str) -> bool:
    """``False`` when they were not an operator."""
    cursor = conn.execute("DELETE FROM operators WHERE user_id = %s", (_user_id(conn, email),))
    return cursor.rowcount == 1


def list_operators(conn: Connection) -> list[tuple[str, datetime]]:
    rows = conn.execute(
        "SELECT u.email, o.granted_at FROM operators o JOIN users u ON u.id = o.user_id"
        " ORDER BY lower(u.email)"
    ).fetchall()
    return [(str(email), granted_at) for email, granted_at in rows]
