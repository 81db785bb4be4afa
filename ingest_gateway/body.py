"""Request bodies: ``Content-Encoding`` gzip/deflate decoded here, bounded by the size limit.

The server runs with aiohttp's own decompression off (``auto_decompress=False``) so that an
unknown or corrupt encoding is the contract's JSON 4xx rather than aiohttp's plain-text
400, and so the limit applies to the inflated size (a gzip bomb gets 413).

One compressed stream per body, with nothing after it (a 400 otherwise): RFC 1952 lets gzip
members be concatenated, but HTTP clients send one, and bytes after the first stream would
otherwise be dropped unread behind a 200 — a second member's events lost without a word.
"""

import zlib

from ingest_gateway.errors import PayloadTooLarge, UnsupportedEncoding
from ingest_gateway.validation import body_error

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > max_bytes:
            raise PayloadTooLarge()
        return raw
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise UnsupportedEncoding(encoding)
    inflater = zlib.decompressobj(wbits)
    try:
        body = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise body_error(f"Body is not valid {encoding} data.", reason="bad_encoding") from exc
    if len(body) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge()
    if not inflater.eof:
        raise body_error(f"Body is not valid {encoding} data (truncated).", reason="bad_encoding")
    if inflater.unused_data:
        raise body_error(
            f"Body has bytes after the end of the {encoding} stream; send one stream per body.",
            reason="bad_encoding",
        )
    return body
