import resource
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ingest_gateway.app_keys import METRICS
from ingest_gateway.metrics import Metrics
from ingest_gateway.server import (
    FD_RESERVE,
    connection_cap,
    handler_options,
    raise_open_files_limit,
    start_site,
)
from ingest_gateway.settings import Settings


def test_the_cap_leaves_descriptors_for_the_gateways_own_clients() -> None:
    assert connection_cap(4096, 20_000) == 4096
    assert connection_cap(4096, 1024) == 1024 - FD_RESERVE
    assert connection_cap(4096, 10) == 1  # a broken limit still serves someone


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_files_limit() >= soft
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] in (hard, max(soft, 65536))


def test_the_idle_timeout_is_aiohttps_keepalive_timeout() -> None:
    settings = Settings(database_url="", redis_url="", kafka_bootstrap="", idle_timeout_seconds=7)
    options = handler_options(settings)
    assert options["keepalive_timeout"] == 7
    assert options["auto_decompress"] is False


async def test_a_port_it_cannot_bind_closes_what_the_app_opened() -> None:
    """A gateway that fails to bind (a busy port) still runs its cleanup: its Kafka, Redis
    and PostgreSQL clients are closed, not left for asyncio to report as unclosed."""
    cleaned: list[bool] = []

    async def resources(app: web.Application) -> AsyncIterator[None]:
        yield
        cleaned.append(True)

    app = web.Application()
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(resources)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(
            database_url="", redis_url="", kafka_bootstrap="", host="127.0.0.1", port=port
        )
        with pytest.raises(OSError):
            await start_site(app, settings, max_connections=10)
    assert cleaned == [True]
