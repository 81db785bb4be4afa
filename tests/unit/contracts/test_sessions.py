"""The session and token shapes the control plane and the query API share."""

import hashlib
from datetime import UTC, datetime

from contracts.sessions import (
    Session,
    bearer_token,
    decode_session,
    encode_session,
    new_token,
    session_key,
)


def test_session_key_holds_the_hash_of_the_id() -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    assert session_key("ra:", "abc") == f"ra:session:{digest}"


def test_session_round_trip_and_bad_values() -> None:
    session = Session("u1", "a@example.com", datetime(2026, 2, 1, tzinfo=UTC))
    assert decode_session(encode_session(session)) == session
    assert encode_session(session) == (
        b'{"userId":"u1","email":"a@example.com","createdAt":"2026-02-01T00:00:00+00:00"}'
    )
    for raw in (None, b"nope", b"{}", b"[]", b'{"userId":"u","email":"e","createdAt":"x"}'):
        assert decode_session(raw) is None


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer ra_cli_abc") == "ra_cli_abc"
    assert bearer_token("bearer  ra_cli_abc ") == "ra_cli_abc"
    assert bearer_token("Bearer sk_live_abc") is None
    assert bearer_token("Basic ra_cli_abc") is None
    assert bearer_token(None) is None


def test_garbage_credentials_are_refused_not_raised() -> None:
    # aiohttp hands non-UTF-8 header bytes over as lone surrogates.
    assert bearer_token("Bearer ra_cli_\udcff\udcfe") is None
    assert bearer_token("Bearer ra_cli_" + "é" * 40) is None
    assert bearer_token("Bearer ra_cli_" + "a" * 201) is None
    assert bearer_token("Bearer ra_cli_") is None
    assert session_key("ra:", "\udcff\udcfe\udc80abc").startswith("ra:session:")


def test_tokens_are_long_and_distinct() -> None:
    tokens = {new_token("ra_cli_") for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith("ra_cli_") and len(t) >= 7 + 43 for t in tokens)
