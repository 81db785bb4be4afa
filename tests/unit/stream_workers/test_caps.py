"""Sizes the worker keeps indexed values within, whatever a record on the topic holds."""

from stream_workers.caps import MAX_ID_BYTES, MAX_KEY_BYTES, storable_id, storable_key


def test_breakdown_keys_over_the_byte_cap_are_not_storable() -> None:
    assert storable_key("plan")
    assert storable_key("k" * MAX_KEY_BYTES)  # the contract's 200 ASCII characters fit
    assert not storable_key("\U0001f600" * 51)  # 204 bytes in 51 characters
    assert not storable_key("")
    assert not storable_key("a\x00b")


def test_ids_within_the_cap_are_kept_as_they_are() -> None:
    for text in ("u1", "x" * MAX_ID_BYTES, "\U0001f600" * (MAX_ID_BYTES // 4), "é" * 500):
        assert storable_id(text) is text


def test_a_long_id_becomes_a_short_digest_that_keeps_ids_apart() -> None:
    one, other = "\U0001f600" * 3000, "\U0001f600" * 2999 + "x"
    assert len(storable_id(one).encode()) <= MAX_ID_BYTES
    assert storable_id(one) == storable_id("\U0001f600" * 3000)  # stable: one user
    assert storable_id(one) != storable_id(other)  # a shared prefix: still two users
    assert storable_id(one).startswith("\U0001f600" * 64 + "~sha256:")
