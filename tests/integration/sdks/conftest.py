"""Fixtures for the SDK tests: the ingest gateway's own (real gateway in-process, per-test
topic, schema and Redis prefix) plus a fault-injecting proxy in front of it."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

# The gateway's fixtures, reused as they are: same settings, same in-process server.
from tests.integration.ingest_gateway.conftest import (  # noqa: F401
    database,
    gateway,
    project,
    settings,
    settings_with,
)
from tests.integration.sdks.fault_proxy import FaultProxy


def gateway_url(client: TestClient) -> str:
    return str(client.server.make_url("/"))


@pytest.fixture
async def proxy(gateway: TestClient) -> AsyncIterator[FaultProxy]:  # noqa: F811
    proxy = await FaultProxy(gateway_url(gateway)).start()
    yield proxy
    await proxy.close()
