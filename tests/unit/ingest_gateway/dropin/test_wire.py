"""What the drop-in formats share (ingest_gateway.dropin.wire)."""

from contracts.events import DERIVE_SESSION
from ingest_gateway.dropin.wire import basic_auth_user, end_user, mark_sessionless, may_hold_nul


def test_only_a_plain_json_body_without_an_escaped_nul_skips_the_scan() -> None:
    assert may_hold_nul(b' {"a": "x"}') is False
    assert may_hold_nul(b'[{"a": "x"}]') is False
    assert may_hold_nul(b'[{"a": "x\\u0000"}]') is True
    assert may_hold_nul(b"data=%7B%22a%22%3A%22%5Cu0000%22%7D") is True  # a form hides it
    assert may_hold_nul(b"eyJhIjogIlx1MDAwMCJ9") is True  # base64 too
    assert may_hold_nul(b"\x1f\x8b\x08") is True  # and gzip-js


def test_basic_auth_gives_its_user() -> None:
    assert basic_auth_user("Basic cGtfbGl2ZV94Og==") == "pk_live_x"  # "pk_live_x:"
    for bad in (None, "", "Bearer x", "Basic !!!", "Basic Og=="):
        assert basic_auth_user(bad) is None


def test_an_end_user_is_an_agent_and_a_real_address() -> None:
    assert end_user("Mozilla/5.0", " 8.8.8.8 ") == {"userAgent": "Mozilla/5.0", "ip": "8.8.8.8"}
    assert end_user(None, "not an address") == {}
    assert end_user(42, ["8.8.8.8"]) == {}
    assert len(end_user("x" * 2000, None)["userAgent"]) == 512


def test_events_without_a_session_id_ask_the_workers_to_derive_one() -> None:
    events = [{"sessionId": "own"}, {}, {"sessionId": ""}, {"sessionId": None}, 7, ["x"]]
    mark_sessionless(events)
    assert events == [
        {"sessionId": "own"},
        {"sessionId": DERIVE_SESSION},
        {"sessionId": DERIVE_SESSION},
        {"sessionId": DERIVE_SESSION},
        7,  # not an event: validation names it
        ["x"],
    ]
