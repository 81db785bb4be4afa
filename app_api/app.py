"""One origin for the browser and the CLI: each service's app mounted at its own prefix.

A service package ``name`` is mounted when it can be imported; it provides
``name.app.create_app(settings)``, ``name.app.MOUNT_PREFIX`` and
``name.settings.load_settings()``. aiohttp resolves the longest matching prefix first, so
``/api/query`` (query API) and ``/api`` (control plane) coexist; the dashboard's pages
are under ``/dashboard`` (aiohttp refuses an empty sub-app prefix, so not at ``/``).
"""

import importlib
import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from common.security_headers import API_POLICY, add_security_headers

logger = logging.getLogger(__name__)

SERVICES = ("control_plane", "query_api", "dashboard")


@dataclass(frozen=True, slots=True)
class Mount:
    name: str
    prefix: str
    app: web.Application


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(mounts: Sequence[Mount]) -> web.Application:
    root = web.Application()
    # The origin's default; a mounted app's own (the dashboard's pages) replaces it.
    add_security_headers(root, API_POLICY)
    root.router.add_get("/health", health)
    for mount in mounts:
        root.add_subapp(mount.prefix, mount.app)
    return root


def mount_service(name: str) -> Mount | None:
    """The service's app built from its own settings, or ``None`` when not installed."""
    if importlib.util.find_spec(name) is None:
        return None
    app_module = importlib.import_module(f"{name}.app")
    settings_module = importlib.import_module(f"{name}.settings")
    prefix = getattr(app_module, "MOUNT_PREFIX", None)
    if not isinstance(prefix, str):
        raise RuntimeError(f"{name}.app has no MOUNT_PREFIX; the App API cannot mount it")
    app = app_module.create_app(settings_module.load_settings())
    logger.info("mounting %s at %s", name, prefix)
    return Mount(name, prefix, app)


def mounts_from_environment(services: Sequence[str] = SERVICES) -> list[Mount]:
    return [m for m in (mount_service(name) for name in services) if m is not None]
