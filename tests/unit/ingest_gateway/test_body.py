import gzip
import zlib

import pytest

from ingest_gateway.body import decode_body
from ingest_gateway.errors import PayloadTooLarge, UnsupportedEncoding, ValidationFailed

BODY = b'[{"event": "x"}]'


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (BODY, None),
        (BODY, "identity"),
        (gzip.compress(BODY), "gzip"),
        (gzip.compress(BODY), " GZIP "),
        (zlib.compress(BODY), "deflate"),
    ],
)
def test_supported_encodings_are_decoded(raw: bytes, encoding: str | None) -> None:
    assert decode_body(raw, encoding, max_bytes=1024) == BODY


def test_limit_applies_to_the_inflated_size() -> None:
    bomb = gzip.compress(b"a" * 10_000)
    assert len(bomb) < 100
    with pytest.raises(PayloadTooLarge):
        decode_body(bomb, "gzip", max_bytes=9_999)
    assert len(decode_body(bomb, "gzip", max_bytes=10_000)) == 10_000


def test_plain_body_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_body(b"x" * 11, None, max_bytes=10)


@pytest.mark.parametrize("encoding", ["br", "compress", "bogus"])
def test_unknown_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding) as caught:
        decode_body(BODY, encoding, max_bytes=1024)
    assert caught.value.status == 415


@pytest.mark.parametrize("raw", [b"not gzip at all", gzip.compress(BODY)[:-12]])
def test_corrupt_or_truncated_gzip_is_a_400(raw: bytes) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_body(raw, "gzip", max_bytes=1024)
    assert "gzip" in caught.value.body["details"][0]["message"]


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (gzip.compress(BODY) + b"garbage", "gzip"),
        (gzip.compress(BODY) + b"\x00", "x-gzip"),
        (zlib.compress(BODY) + b"trailing", "deflate"),
    ],
    ids=["gzip", "x-gzip", "deflate"],
)
def test_bytes_after_the_compressed_stream_are_a_400(raw: bytes, encoding: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_body(raw, encoding, max_bytes=1024)
    assert caught.value.reason == "bad_encoding"
    assert "after the end" in caught.value.body["details"][0]["message"]


def test_a_second_gzip_member_is_refused_not_silently_dropped() -> None:
    # RFC 1952 allows several members; the gateway takes one (docs/api.md), and must not
    # answer 200 for a body whose second member it never read.
    two_members = gzip.compress(BODY) + gzip.compress(b'[{"event": "y"}]')
    assert gzip.decompress(two_members) == BODY + b'[{"event": "y"}]'
    with pytest.raises(ValidationFailed) as caught:
        decode_body(two_members, "gzip", max_bytes=1024)
    assert caught.value.reason == "bad_encoding"
    assert "one stream per body" in caught.value.body["details"][0]["message"]
