"""The standard-library HTTP/1.1 pool the threaded Client posts through, against scripted
servers on 127.0.0.1: keep-alive, chunked answers, Connection: close, stale connections,
timeouts."""

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from realanalytics_sdk.connections import ConnectionPool
from realanalytics_sdk.transport import USER_AGENT, Answer

OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    b'{"success":true}'
)
Answerer = Callable[[int, int], bytes | None]  # (connection no., request no.) -> raw answer


@asynccontextmanager
async def server(answer: Answerer) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server that reads each request and writes ``answer(...)`` (None: close, or
    b"": hang); yields its URL and the requests' heads."""
    heads: list[bytes] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number, requests = connections, 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                heads.append(head)
                requests += 1
                raw = answer(number, requests)
                if raw is None:
                    break
                if raw == b"":
                    await asyncio.sleep(30)
                writer.write(raw)
                await writer.drain()
                if b"Connection: close" in raw:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:  # the test is over (a "hanging" answer)
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/ingest", heads
    finally:
        listener.close()
        await listener.wait_closed()


async def test_one_kept_alive_connection_serves_requests_one_after_another() -> None:
    seen: list[int] = []

    def answer(connection: int, request: int) -> bytes:
        seen.append(connection)
        return OK

    async with server(answer) as (url, heads):
        pool = ConnectionPool(url, "pk_test", timeout=5)
        answers = [await pool.send(b"[]") for _ in range(3)]
        await pool.close()
    assert answers == [Answer(200, b'{"success":true}')] * 3
    assert seen == [1, 1, 1]
    assert heads[0].startswith(b"POST /ingest HTTP/1.1\r\n")
    assert b"X-API-Key: pk_test\r\n" in heads[0] and USER_AGENT.encode() in heads[0]
    assert b"Content-Type: application/json\r\n" in heads[0]


async def test_chunked_answers_interim_answers_and_retry_after_are_read() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
        b'5\r\n{"err\r\n1b;ext=1\r\nor": "Rate limit exceeded"}\r\n0\r\n\r\n'
    )
    async with server(lambda c, r: raw) as (url, _):
        pool = ConnectionPool(url, "pk_test", timeout=5)
        first = await pool.send(b"[]")
        second = await pool.send(b"[]")
        await pool.close()
    assert first == Answer(429, b'{"error": "Rate limit exceeded"}', "7") == second


async def test_connection_close_and_a_body_until_close_open_a_new_connection() -> None:
    seen: list[int] = []

    def answer(connection: int, request: int) -> bytes:
        seen.append(connection)
        return b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbusy"

    async with server(answer) as (url, _):
        pool = ConnectionPool(url, "pk_test", timeout=5)
        answers = [await pool.send(b"[]") for _ in range(2)]
        await pool.close()
    assert answers == [Answer(503, b"busy")] * 2
    assert seen == [1, 2]


async def test_a_connection_the_server_dropped_while_idle_is_replaced_at_once() -> None:
    def answer(connection: int, request: int) -> bytes | None:
        return OK if request == 1 else None  # each connection: one answer, then it drops

    async with server(answer) as (url, _):
        pool = ConnectionPool(url, "pk_test", timeout=5)
        assert (await pool.send(b"[]")).status == 200
        assert (await pool.send(b"[]")).status == 200  # through a second connection
        await pool.close()


async def test_no_answer_in_time_or_no_server_is_no_answer() -> None:
    async with server(lambda c, r: b"") as (url, _):
        pool = ConnectionPool(url, "pk_test", timeout=0.2)
        assert await pool.send(b"[]") == Answer(None)
        await pool.close()
    pool = ConnectionPool(url, "pk_test", timeout=1)  # the server has gone
    assert await pool.send(b"[]") == Answer(None)
    await pool.close()


async def test_compressed_bodies_are_gzipped_and_say_so() -> None:
    bodies: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert b"Content-Encoding: gzip\r\n" in head
        bodies.append(await reader.readexactly(length))
        writer.write(OK)
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    pool = ConnectionPool(f"http://127.0.0.1:{port}", "pk_test", timeout=5, compress=True)
    body = b"[" + b",".join([b'{"event":"e"}'] * 100) + b"]"
    assert (await pool.send(body)).status == 200
    await pool.close()
    listener.close()
    await listener.wait_closed()
    assert gzip.decompress(bodies[0]) == body and len(bodies[0]) < len(body) / 5
