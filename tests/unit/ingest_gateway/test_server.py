import resource

from ingest_gateway.server import (
    FD_RESERVE,
    connection_cap,
    handler_options,
    raise_open_files_limit,
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
