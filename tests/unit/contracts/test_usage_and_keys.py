from datetime import UTC, datetime

from contracts.api_keys import KeyKind, generate_key, hash_key, looks_like_secret_key
from contracts.usage import UsageState, month_of, total_used, usage_key


def test_usage_is_the_sum_of_partition_counts() -> None:
    fields = {b"p0": b"10", b"o0": b"99", b"p7": b"5", b"o7": b"3", b"limit": b"10000"}
    assert total_used(fields) == 15


def test_usage_key_is_per_project_and_utc_month() -> None:
    moment = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert usage_key("ra:", "proj", month_of(moment)) == "ra:usage:proj:2026-03"


def test_usage_state_arithmetic() -> None:
    assert UsageState(limit=10_000, used=10_000).exceeded
    assert UsageState(limit=10_000, used=10_500).remaining == 0
    assert not UsageState(limit=10_000, used=9_999).exceeded


def test_keys_have_their_kind_prefix_and_hash_stably() -> None:
    public, secret = generate_key(KeyKind.PUBLIC), generate_key(KeyKind.SECRET)
    assert public.startswith("pk_live_") and secret.startswith("sk_live_")
    assert looks_like_secret_key(secret) and not looks_like_secret_key(public)
    assert hash_key(public) == hash_key(public) != hash_key(secret)
    assert generate_key(KeyKind.PUBLIC) != public
