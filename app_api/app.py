"""One origin for the browser and the CLI: each service's app mounted at its own prefix.

Each service provides ``create_app(settings)`` and ``MOUNT_PREFIX`` in its ``app`` module
and ``load_settings()`` in its ``settings`` module. aiohttp resolves the longest matching
prefix first, so ``/api/query`` (query API) and ``/api`` (control plane) coexist; the
dashboard's pages are under ``/dashboard`` (aiohttp refuses an empty sub-app prefix, so
not at ``/``). The services are plain imports: every package ships in the one
distribution (pyproject.toml), so none is ever absent, and a broken one should stop the
App API at start-up rather than leave its routes silently unmounted.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

import control_plane.app
import control_plane.settings
import dashboard.app
import dashboard.settings
import query_api.app
import query_api.settings
from common.health import health
from common.security_headers import API_POLICY, add_security_headers

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mount:
    name: str
    prefix: str
    app: web.Application


def create_app(mounts: Sequence[Mount]) -> web.Application:
    root = web.Application()
    # The origin's default; a mounted app's own (the dashboard's pages) replaces it.
    add_security_headers(root, API_POLICY)
    root.router.add_get("/health", health)
    for mount in mounts:
        logger.info("mounting %s at %s", mount.name, mount.prefix)
        root.add_subapp(mount.prefix, mount.app)
    return root


def mounts_from_environment() -> list[Mount]:
    """The three services' apps, each built from its own settings (its environment)."""
    return [
        Mount(
            "control_plane",
            control_plane.app.MOUNT_PREFIX,
            control_plane.app.create_app(control_plane.settings.load_settings()),
        ),
        Mount(
            "query_api",
            query_api.app.MOUNT_PREFIX,
            query_api.app.create_app(query_api.settings.load_settings()),
        ),
        Mount(
            "dashboard",
            dashboard.app.MOUNT_PREFIX,
            dashboard.app.create_app(dashboard.settings.load_settings()),
        ),
    ]
