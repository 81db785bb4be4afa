"""Client-address resolution: the peer, or what trusted proxies appended, never a forgery."""

import pytest

from common.client_address import (
    LOOPBACK,
    client_address,
    forwarded_chain,
    parse_trusted_proxies,
    throttle_address,
)

LOCAL = parse_trusted_proxies(LOOPBACK)
EDGE = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1")


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.7", [], LOCAL, "203.0.113.7"),
        # An untrusted peer's header is ignored, whatever it says.
        ("203.0.113.7", ["198.51.100.1"], LOCAL, "203.0.113.7"),
        ("127.0.0.1", ["198.51.100.1"], LOCAL, "198.51.100.1"),
        ("::1", ["2001:db8::5"], LOCAL, "2001:db8::5"),
        # A forged entry sits left of the one our proxy appended: the appended one wins.
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], EDGE, "198.51.100.1"),
        # Two trusted hops: the first untrusted address from the right.
        ("127.0.0.1", ["198.51.100.1", "10.1.2.3"], EDGE, "198.51.100.1"),
        # Every entry trusted: the leftmost one is the client.
        ("127.0.0.1", ["10.9.9.9", "10.1.2.3"], EDGE, "10.9.9.9"),
        # Garbage from the trusted proxy: stop at the last address known.
        ("127.0.0.1", ["not-an-ip"], LOCAL, "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.1:4711"], LOCAL, "198.51.100.1"),
        ("127.0.0.1", ["[2001:db8::1]:443"], LOCAL, "2001:db8::1"),
        ("::ffff:127.0.0.1", ["198.51.100.1"], LOCAL, "198.51.100.1"),
        # No proxy trusted at all.
        ("127.0.0.1", ["198.51.100.1"], (), "127.0.0.1"),
        (None, ["198.51.100.1"], LOCAL, "unknown"),
    ],
)
def test_client_address(
    peer: str | None,
    forwarded: list[str],
    proxies: tuple,
    expected: str,  # type: ignore[type-arg]
) -> None:
    assert client_address(peer, forwarded, proxies) == expected


def test_repeated_headers_are_one_chain() -> None:
    assert forwarded_chain(["1.1.1.1, 2.2.2.2", " 3.3.3.3 ", ""]) == [
        "1.1.1.1",
        "2.2.2.2",
        "3.3.3.3",
    ]


def test_ipv6_clients_are_throttled_by_their_64() -> None:
    assert throttle_address("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle_address("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert throttle_address("198.51.100.1") == "198.51.100.1"
    assert throttle_address("unknown") == "unknown"


def test_parse_trusted_proxies() -> None:
    assert [str(n) for n in parse_trusted_proxies(" 10.0.0.1 ,::1/128,")] == [
        "10.0.0.1/32",
        "::1/128",
    ]
    assert parse_trusted_proxies("") == ()
