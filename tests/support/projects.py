"""Projects for tests, created with the control plane's own function."""

import psycopg

from control_plane.projects import CreatedProject, create_project


async def new_project(conninfo: str, slug: str = "acme", plan: str = "free") -> CreatedProject:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        return await create_project(conn, slug, slug.title(), plan)
