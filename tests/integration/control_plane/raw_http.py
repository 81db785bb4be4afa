"""One HTTP/1.1 request written byte for byte, for headers no HTTP client will send
(non-UTF-8 cookie values, say)."""

import asyncio

import orjson


async def raw_request(
    port: int, method: str, path: str, headers: list[bytes], body: bytes = b""
) -> tuple[int, object]:
    """``(status, JSON body or the raw bytes)`` of one request on a fresh connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: app.test", *headers]
        head += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    try:
        return int(status_line.split()[1]), orjson.loads(payload)
    except orjson.JSONDecodeError:
        return int(status_line.split()[1]), payload
