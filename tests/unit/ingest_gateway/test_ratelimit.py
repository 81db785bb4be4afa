import pytest

from ingest_gateway.ratelimit import decide


def test_requests_up_to_the_limit_are_admitted() -> None:
    decision = decide(count=1000, reset_ms=30_000, limit=1000)
    assert decision.allowed
    assert decision.remaining == 0
    assert "Retry-After" not in decision.headers()


def test_request_over_the_limit_says_when_to_retry() -> None:
    decision = decide(count=1001, reset_ms=12_300, limit=1000)
    assert not decision.allowed
    headers = decision.headers()
    assert headers["Retry-After"] == "13"
    assert headers["X-RateLimit-Limit"] == "1000"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset"] == "13"


@pytest.mark.parametrize("reset_ms", [0, 1, 999])
def test_retry_after_is_at_least_one_second(reset_ms: int) -> None:
    assert decide(count=5, reset_ms=reset_ms, limit=1).headers()["Retry-After"] == "1"
