"""Keep-alive HTTP/1.1 connections to the ingest gateway on asyncio, standard library only.

``Client``'s sender thread runs an event loop and keeps several requests in flight through
this pool: one connection per request in flight, opened when first needed and then
reused. Only what posting a batch needs is implemented: a ``POST`` with a
``Content-Length`` body; answers with ``Content-Length``, chunked, or until close.
"""

import asyncio
import gzip
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from realanalytics_sdk.transport import USER_AGENT, Answer, ingest_target

MAX_HEAD_BYTES = 64 * 1024  # asyncio's default line limit, for the status line and headers
MAX_ANSWER_BYTES = 1024 * 1024  # an ingest answer is a few hundred bytes


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.x as we understand it."""


# What a send can fail with: each means "no answer" (ssl.SSLError is an OSError;
# asyncio.IncompleteReadError an EOFError; a malformed number a ValueError).
_FAILURES = (OSError, TimeoutError, EOFError, ProtocolError, ValueError, asyncio.LimitOverrunError)


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    """``await pool.send(body)`` posts one batch; safe for many concurrent sends."""

    def __init__(
        self, host: str, public_key: str, timeout: float, *, compress: bool = False
    ) -> None:
        scheme, netloc, path = ingest_target(host)
        self._compress = compress
        self._tls = scheme == "https"
        address = urlsplit(f"//{netloc}")
        self._host = address.hostname or netloc
        self._port = address.port or (443 if self._tls else 80)
        self._timeout = timeout
        self._head = (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: {netloc}\r\n"
            "Content-Type: application/json\r\n"
            f"X-API-Key: {public_key}\r\n"
            f"User-Agent: {USER_AGENT}\r\n"
            + ("Content-Encoding: gzip\r\n" if compress else "")
            + "Content-Length: "
        ).encode("latin-1")
        self._idle: list[_Connection] = []
        self._ssl: ssl.SSLContext | None = None

    async def send(self, body: bytes) -> Answer:
        """The gateway's answer, or ``Answer(None)`` if there was none (refused, reset,
        timed out, not HTTP)."""
        if self._compress:
            body = gzip.compress(body, compresslevel=1)
        request = self._head + b"%d\r\n\r\n" % len(body) + body
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection.reader.at_eof():  # closed by the server while idle
                    connection.close()
                    continue
                try:
                    return await self._exchange(connection, request)
                except TimeoutError:
                    raise
                except _FAILURES:
                    # A kept-alive connection the server has just closed fails at once:
                    # one retry on a fresh connection tells that apart from an outage.
                    # (A repeat is harmless: every event carries its insertId.)
                    break
            async with asyncio.timeout(self._timeout):
                connection = await self._open()
            return await self._exchange(connection, request)
        except _FAILURES:
            return Answer(None)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _exchange(self, connection: _Connection, request: bytes) -> Answer:
        reusable = False
        try:
            async with asyncio.timeout(self._timeout):
                connection.writer.write(request)
                await connection.writer.drain()
                answer, reusable = await _read_answer(connection.reader)
        finally:
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()
        return answer

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.getaddrinfo(
                self._host, self._port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except RuntimeError:
            # At interpreter exit the loop's executor takes no more work, and close() at
            # exit may need a first connection: resolve on this (the sender's) thread.
            addresses = socket.getaddrinfo(
                self._host, self._port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        error: OSError = OSError(f"no address for {self._host}")
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.sock_connect(sock, address)
                reader, writer = await asyncio.open_connection(
                    sock=sock,
                    ssl=self._tls_context() if self._tls else None,
                    server_hostname=self._host if self._tls else None,
                    limit=MAX_HEAD_BYTES,
                )
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:  # cancelled, timed out: leave no socket open
                sock.close()
                raise
            return _Connection(reader, writer)
        raise error

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl


async def _read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    """One answer (1xx interim answers skipped) and whether the connection can be reused."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x answer: {lines[0][:40]!r}")
        status = int(rest[:3])
        if status >= 200:
            break
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get(b"connection", b"").lower()
    reusable = b"close" not in connection if version == b"HTTP/1.1" else b"keep-alive" in connection
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        body = await _read_chunked(reader)
    elif b"content-length" in headers:
        length = int(headers[b"content-length"])
        if not 0 <= length <= MAX_ANSWER_BYTES:
            raise ProtocolError(f"answer of {length} bytes")
        body = await reader.readexactly(length)
    else:  # the body runs until the server closes the connection
        body = await reader.read(MAX_ANSWER_BYTES)
        reusable = False
    retry_after = headers.get(b"retry-after")
    return Answer(status, body, None if retry_after is None else retry_after.decode("latin-1")), (
        reusable
    )


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the end
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_ANSWER_BYTES:
            raise ProtocolError(f"answer of more than {MAX_ANSWER_BYTES} bytes")
        chunks.append((await reader.readexactly(size + 2))[:-2])
