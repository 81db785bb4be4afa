"""The Python SDK's decisions: answers to actions, backoff, the monthly pause, events."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from realanalytics_sdk.encoding import decode_fragments
from realanalytics_sdk.events import encode, format_timestamp
from realanalytics_sdk.ledger import Done, Ledger, Retry, Split
from realanalytics_sdk.policy import (
    Action,
    Decision,
    backoff_delay,
    decide,
    next_month_start,
    parse_retry_after,
)

LIMIT_BODY = (
    b'{"error": "Monthly event limit exceeded", "code": "EVENT_LIMIT_EXCEEDED",'
    b' "limit": 10, "used": 10, "remaining": 0}'
)


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "action", "wait"),
    [
        (200, b'{"success": true, "events": 1}', None, Action.SENT, None),
        (None, b"", None, Action.RETRY, None),
        (503, b'{"error": "Service unavailable"}', "2", Action.RETRY, 2.0),
        (429, b'{"error": "Rate limit exceeded"}', "37", Action.RETRY, 37.0),
        (500, b"oops", None, Action.RETRY, None),
        (429, LIMIT_BODY, None, Action.STOP_UNTIL_NEXT_MONTH, None),
        (400, b'{"error": "Validation failed", "details": []}', None, Action.DROP, None),
        (401, b'{"error": "Invalid API key"}', None, Action.DROP, None),
        (413, b'{"error": "Payload too large"}', None, Action.SPLIT, None),
    ],
)
def test_decide_maps_each_contract_answer(
    status: int | None, body: bytes, retry_after: str | None, action: Action, wait: float | None
) -> None:
    decision = decide(status, body, retry_after)
    assert decision.action is action
    assert decision.retry_after == wait


def test_a_400_reason_carries_the_details() -> None:
    body = b'{"error": "Validation failed", "details": [{"index": 0, "field": "event"}]}'
    assert '"field": "event"' in decide(400, body, None).reason


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_with_jitter_between_half_and_full_and_is_capped() -> None:
    low = [backoff_delay(n, rand=lambda: 0.0) for n in range(1, 5)]
    high = [backoff_delay(n, rand=lambda: 1.0) for n in range(1, 5)]
    assert low == [0.25, 0.5, 1.0, 2.0]
    assert high == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(50, rand=lambda: 1.0) == 30.0


def test_backoff_never_earlier_than_retry_after() -> None:
    assert backoff_delay(1, 7.0, rand=lambda: 1.0) == 7.0
    assert backoff_delay(8, 1.0, rand=lambda: 1.0) == 30.0


def test_next_month_start_in_utc() -> None:
    assert next_month_start(datetime(2026, 2, 17, 9, tzinfo=UTC)) == datetime(
        2026, 3, 1, tzinfo=UTC
    )
    assert next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    # 31 Jan 23:30 in New York is already February in UTC.
    new_york = timezone(timedelta(hours=-5))
    assert next_month_start(datetime(2026, 1, 31, 23, 30, tzinfo=new_york)) == datetime(
        2026, 3, 1, tzinfo=UTC
    )


def test_ledger_retries_up_to_max_then_discards() -> None:
    ledger = Ledger(max_retries=2)
    part = [b'{"event":"a"}', b'{"event":"b"}']
    now = datetime(2026, 2, 1, tzinfo=UTC)
    retry = Decision(Action.RETRY, retry_after=1.0)
    assert ledger.settle(part, retry, 0, now, lambda: 0.0) == Retry(1.0)
    assert isinstance(ledger.settle(part, retry, 1, now, lambda: 0.0), Retry)
    assert ledger.settle(part, retry, 2, now, lambda: 0.0) == Done()
    assert ledger.discarded == 2 and ledger.sent == 0


def test_ledger_counts_sent_splits_413_and_drops_a_single_oversized_event() -> None:
    ledger = Ledger(max_retries=3)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    part = [b'{"i":%d}' % i for i in range(5)]
    assert ledger.settle(part, Decision(Action.SENT), 0, now) == Done()
    assert ledger.sent == 5
    step = ledger.settle(part, Decision(Action.SPLIT), 0, now)
    assert isinstance(step, Split) and [len(p) for p in step.parts] == [2, 3]
    assert ledger.settle(part[:1], Decision(Action.SPLIT), 0, now) == Done()
    assert ledger.discarded == 1


def test_ledger_pauses_until_next_month_on_event_limit() -> None:
    errors: list[str] = []
    given_up: list[object] = []

    def on_error(message: str, events: object) -> None:
        errors.append(message)
        given_up.append(events)

    ledger = Ledger(max_retries=3, on_error=on_error)
    now = datetime(2026, 2, 10, tzinfo=UTC)
    part = [b'{"event":"e"}']
    assert ledger.settle(part, Decision(Action.STOP_UNTIL_NEXT_MONTH), 0, now) == Done()
    assert given_up == [[{"event": "e"}]]  # on_error gets the events back as dicts
    assert ledger.paused(now + timedelta(days=18))
    assert not ledger.paused(datetime(2026, 3, 1, tzinfo=UTC))
    assert ledger.paused_until is None
    assert len(errors) == 1 and "2026-03-01" in errors[0]


def build_event(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The event as ``track`` sends it, back as a dict."""
    return decode_fragments([encode(*args, **kwargs)])[0]


def test_build_event_fills_defaults_in_the_contract_shape() -> None:
    event = build_event("signup", "user-1", {"plan": "pro"})
    assert event["sessionId"] == "user-1"
    assert len(event["insertId"]) == 32
    assert event["timestamp"].endswith("Z")
    assert datetime.fromisoformat(event["timestamp"])
    naive = datetime(2026, 2, 3, 15, 30, 0, 123456)
    assert format_timestamp(naive) == "2026-02-03T15:30:00.123Z"
    plus_two = datetime(2026, 2, 3, 17, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(plus_two) == "2026-02-03T15:30:00.000Z"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("", "u"), {}),
        (("x" * 101, "u"), {}),
        (("e", ""), {}),
        (("e", "u", {str(i): i for i in range(101)}), {}),
        (("e", "u"), {"insert_id": "x" * 65}),
        (("e", "u"), {"session_id": ""}),
    ],
)
def test_build_event_refuses_what_the_gateway_would(args: tuple, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        build_event(*args, **kwargs)
