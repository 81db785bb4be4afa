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
