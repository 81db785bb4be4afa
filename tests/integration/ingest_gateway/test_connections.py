"""Idle and slow connections against a real gateway process (issue 14, case 7).

Clients that connect and never send a request (or trickle one) must not pile up until the
gateway runs out of file descriptors: they are closed after the idle/header timeout, past
the connection cap new ones get a clear 503, and the gateway keeps answering.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import orjson
import pytest

from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.integration.ingest_gateway.test_ingest import event

pytestmark = pytest.mark.integration

IDLE_TIMEOUT = 1.0
MAX_CONNECTIONS = 50


@pytest.fixture
def idle_timeout() -> float:
    return IDLE_TIMEOUT


@pytest.fixture
def gateway_url(settings: Settings, idle_timeout: float) -> Iterator[str]:
    with gateway_process(
        settings,
        RA_INGEST_IDLE_TIMEOUT_SECONDS=str(idle_timeout),
        RA_INGEST_BODY_TIMEOUT_SECONDS="1",
        RA_INGEST_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    ) as url:
        yield url


async def send_event(url: str, key: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=orjson.dumps(event(1)), headers={"X-API-Key": key}) as response,
    ):
        return response.status


class Sockets:
    """Raw client connections, all closed when the test ends."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, first_bytes: bytes = b"") -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        if first_bytes:
            writer.write(first_bytes)
            await writer.drain()
        return reader

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        for writer in self.writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@pytest.fixture
async def sockets(gateway_url: str) -> AsyncIterator[Sockets]:
    opened = Sockets(int(gateway_url.rsplit(":", 1)[1]))
    yield opened
    await opened.close()


async def read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything the server sends before it closes, or raise if it keeps the connection."""
    return await asyncio.wait_for(reader.read(), timeout)


async def test_idle_connections_are_closed_after_the_header_timeout(
    gateway_url: str, project: CreatedProject, sockets: Sockets
) -> None:
    # Below the cap: idle sockets, one sending half a request head, do not block others.
    idle = [await sockets.open() for _ in range(MAX_CONNECTIONS - 10)]
    slow = await sockets.open(b"POST / HTTP/1.1\r\nHost: gateway\r\nX-API-Key: ")
    assert await send_event(gateway_url, project.public_key) == 200
    started = asyncio.get_running_loop().time()
    answers = await asyncio.gather(*(read_until_closed(r, 10 * IDLE_TIMEOUT) for r in idle))
    assert answers == [b""] * len(idle)  # closed without an answer: no request came
    assert await read_until_closed(slow, 10 * IDLE_TIMEOUT) == b""
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 8 * IDLE_TIMEOUT  # aiohttp's default would hold them for 75 s
    assert await send_event(gateway_url, project.public_key) == 200


@pytest.mark.parametrize("idle_timeout", [5.0])  # the held ones must outlast the opening
async def test_past_the_connection_cap_new_connections_get_a_clear_503(
    gateway_url: str, project: CreatedProject, sockets: Sockets
) -> None:
    held = [await sockets.open() for _ in range(MAX_CONNECTIONS)]
    extra = await asyncio.gather(*(sockets.open() for _ in range(4 * MAX_CONNECTIONS)))
    refused = await asyncio.gather(*(read_until_closed(r, 5) for r in extra))
    assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in refused), set(refused)
    assert all(b"Retry-After: 1" in answer for answer in refused)
    assert all(answer.endswith(b'{"error": "Service unavailable"}') for answer in refused)
    # Once the idle ones time out, the gateway serves again and the refusals were counted.
    await asyncio.gather(*(read_until_closed(r, 20) for r in held))
    assert await send_event(gateway_url, project.public_key) == 200
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{gateway_url}/metrics") as response,
    ):
        metrics = await response.text()
    counted = f'ingest_refused_total{{project="",reason="over_capacity"}} {4 * MAX_CONNECTIONS}.0'
    assert counted in metrics


async def test_a_body_trickled_past_its_timeout_gets_408(
    gateway_url: str, project: CreatedProject, sockets: Sockets
) -> None:
    head = (
        b"POST / HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"X-API-Key: " + project.public_key.encode() + b"\r\nContent-Length: 1000\r\n\r\n[{"
    )
    reader = await sockets.open(head)
    answer = await asyncio.wait_for(reader.readuntil(b'"}'), 5)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.endswith(b'{"error": "Request timeout"}')
    # closed after at most aiohttp's lingering time (10 s) for the rest of the body
    assert await read_until_closed(reader, 15) == b""
