"""``python -m <service>`` for every service served by aiohttp's own runner: logging set up
first (so that reading the settings can already log), then the app served until SIGINT or
SIGTERM.

aiohttp's access log is off: one line per request would drown the services' own lines, and
requests are counted in ``/metrics`` instead. (The ingest gateway runs its own server loop,
``ingest_gateway.server``, for its connection cap.)
"""

from collections.abc import Callable
from typing import Protocol, TypeVar

from aiohttp import web

from common.logs import configure as configure_logging


class Listening(Protocol):
    """Where a service listens: the part of its settings this module reads."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def reuse_port(self) -> bool: ...


S = TypeVar("S", bound=Listening)


def serve(load_settings: Callable[[], S], create_app: Callable[[S], web.Application]) -> None:
    """Serve ``create_app(load_settings())`` on the settings' host and port."""
    configure_logging()
    settings = load_settings()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=settings.reuse_port,
        access_log=None,
    )
