"""Requests aiohttp's own parser refuses (a control character in a header value, a
request line that is not HTTP) get the same JSON error body as every other refusal,
are counted, and leave one short log line — no traceback, nothing of the request."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.support.testlogs import service_log

pytestmark = pytest.mark.integration

SECRET_LOOKING = b"pk_live_not_a_real_key_0123456789"


@pytest.fixture
def gateway_log() -> Path:
    return service_log("ingest_gateway")


@pytest.fixture
def gateway_url(settings: Settings, gateway_log: Path) -> Iterator[str]:
    with gateway_process(settings, log=gateway_log) as url:
        yield url


async def raw_exchange(url: str, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nX-API-Key: " + SECRET_LOOKING + b"\x01\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        b"POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x00b\r\nContent-Length: 2\r\n\r\n{}",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}",
    ],
)
async def test_a_request_the_http_parser_refuses_gets_a_json_400(
    gateway_url: str, gateway_log: Path, project: CreatedProject, request_bytes: bytes
) -> None:
    answer = await raw_exchange(gateway_url, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400", answer[:200]
    assert b"application/json" in head.lower()
    refusal = json.loads(body)
    assert refusal["error"] == "Malformed HTTP request"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway_url}/metrics") as response:
            metrics = await response.text()
        async with session.get(f"{gateway_url}/health") as response:
            assert response.status == 200
    assert 'ingest_refused_total{project="",reason="malformed_http"} 1.0' in metrics.splitlines()
    log = await asyncio.to_thread(gateway_log.read_bytes)
    assert b"Traceback" not in log
    assert SECRET_LOOKING not in log
