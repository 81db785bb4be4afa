"""Config deploys: each one a new version, written with its outbox entry in one transaction.

The row and the outbox entry commit together or not at all, so a deploy is never stored
without being published nor published without being stored; the relay (``outbox.py``)
publishes the entry afterwards. A rollback re-deploys an older version's config as a new
version, so versions only grow and consumers can ignore anything not newer.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from contracts.control import ConfigDeployed, control_key, encode_control
from control_plane.outbox import NOTIFY_CHANNEL


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    version: int
    config: dict[str, Any]
    deployed_by: str | None
    rolled_back_from: int | None
    created_at: datetime
    # "pending" until on the control topic, then "published"; "failed" when Kafka refused
    # the record for its content (``publish_error`` says why): it will not be retried.
    status: str
    publish_error: str | None


async def deploy_config(
    conn: AsyncConnection,
    project_id: str,
    config: dict[str, Any],
    user_id: str | None,
    rolled_back_from: int | None = None,
) -> int:
    """Store ``config`` (already validated) as the project's next version; return it."""
    async with conn.transaction():
        # The project row lock serializes deploys of one project: versions never collide.
        await conn.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project_id,))
        cursor = await conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM project_configs WHERE project_id = %s",
            (project_id,),
        )
        row = await cursor.fetchone()
        assert row is not None
        version = int(row[0])
        message = ConfigDeployed(project_id=project_id, version=version, config=config)
        cursor = await conn.execute(
            "INSERT INTO control_outbox (message_key, payload) VALUES (%s, %s) RETURNING id",
            (control_key(project_id), encode_control(message)),
        )
        outbox = await cursor.fetchone()
        assert outbox is not None
        await conn.execute(
            "INSERT INTO project_configs"
            " (project_id, version, config, deployed_by, rolled_back_from, outbox_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (project_id, version, Jsonb(config), user_id, rolled_back_from, outbox[0]),
        )
        await conn.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))  # sent on commit
    return version


# A version without an outbox entry (its entry was pruned) was published long ago.
_SELECT = """
SELECT c.version, c.config, u.email, c.rolled_back_from, c.created_at,
       CASE WHEN o.failed_at IS NOT NULL THEN 'failed'
            WHEN o.id IS NOT NULL AND o.published_at IS NULL THEN 'pending'
            ELSE 'published' END,
       o.failure
FROM project_configs c
LEFT JOIN users u ON u.id = c.deployed_by
LEFT JOIN control_outbox o ON o.id = c.outbox_id
WHERE c.project_id = %s
"""


async def config_version(
    conn: AsyncConnection, project_id: str, version: int | None = None
) -> ConfigVersion | None:
    """The given version, or the current (latest) one when ``version`` is ``None``."""
    if version is None:
        cursor = await conn.execute(_SELECT + " ORDER BY c.version DESC LIMIT 1", (project_id,))
    else:
        cursor = await conn.execute(_SELECT + " AND c.version = %s", (project_id, version))
    row = await cursor.fetchone()
    return None if row is None else ConfigVersion(*row)


async def config_history(conn: AsyncConnection, project_id: str) -> list[ConfigVersion]:
    cursor = await conn.execute(_SELECT + " ORDER BY c.version DESC", (project_id,))
    return [ConfigVersion(*row) for row in await cursor.fetchall()]
