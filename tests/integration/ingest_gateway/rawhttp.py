"""One HTTP/1.1 request over a raw socket, for headers no HTTP client will send (non-UTF-8)."""

import asyncio

import orjson


async def raw_post(
    host: str, port: int, headers: list[tuple[bytes, bytes]], body: bytes, timeout: float = 10.0
) -> tuple[int, object]:
    """POST / with these exact header bytes; the status and the decoded JSON body."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = b"POST / HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        head += b"Content-Type: application/json\r\n"
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        writer.write(head + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    status = int(status_line.split()[1])
    try:
        return status, orjson.loads(payload)
    except orjson.JSONDecodeError:
        return status, payload.decode(errors="replace")
