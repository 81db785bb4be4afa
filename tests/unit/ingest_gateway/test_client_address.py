"""The client address recorded with each event: spoofed forwarding headers never believed."""

from multidict import CIMultiDict, CIMultiDictProxy

from ingest_gateway.client_address import (
    DEFAULT_TRUSTED_PROXIES,
    client_address,
    parse_address,
    parse_networks,
)
from ingest_gateway.ingest import request_context

LOOPBACK = parse_networks(DEFAULT_TRUSTED_PROXIES)
BALANCERS = parse_networks(["10.0.0.0/8", "127.0.0.0/8", "::1/128"])


def test_the_peer_is_the_client_without_a_proxy() -> None:
    assert client_address("203.0.113.7", [], LOOPBACK) == "203.0.113.7"


def test_an_untrusted_peer_cannot_name_another_address() -> None:
    assert client_address("203.0.113.7", ["8.8.8.8"], LOOPBACK) == "203.0.113.7"
    assert client_address("203.0.113.7", ["8.8.8.8, 127.0.0.1"], LOOPBACK) == "203.0.113.7"


def test_a_trusted_proxy_forwards_its_client() -> None:
    assert client_address("127.0.0.1", ["198.51.100.4"], LOOPBACK) == "198.51.100.4"
    assert client_address("::1", ["2001:db8::1"], LOOPBACK) == "2001:db8::1"


def test_the_right_most_untrusted_hop_wins_over_what_the_client_wrote() -> None:
    # The client wrote "1.1.1.1" itself; our balancer (10.1.2.3) appended the real peer.
    chain = ["1.1.1.1, 198.51.100.4, 10.1.2.3"]
    assert client_address("127.0.0.1", chain, BALANCERS) == "198.51.100.4"
    # The same chain across two header lines.
    assert client_address("127.0.0.1", ["1.1.1.1", "198.51.100.4, 10.1.2.3"], BALANCERS) == (
        "198.51.100.4"
    )


def test_a_hop_that_is_not_an_address_ends_the_walk() -> None:
    assert client_address("127.0.0.1", ["8.8.8.8, unknown"], LOOPBACK) == "127.0.0.1"


def test_a_chain_of_trusted_hops_gives_its_left_most() -> None:
    assert client_address("127.0.0.1", ["10.0.0.9, 10.0.0.8"], BALANCERS) == "10.0.0.9"


def test_no_peer_no_address() -> None:
    assert client_address(None, ["8.8.8.8"], LOOPBACK) is None
    assert client_address("", [], LOOPBACK) is None


def test_addresses_with_ports_and_mapped_ipv4() -> None:
    assert str(parse_address("198.51.100.4:5678")) == "198.51.100.4"
    assert str(parse_address("[2001:db8::1]:443")) == "2001:db8::1"
    assert str(parse_address("::ffff:8.8.8.8")) == "8.8.8.8"
    assert parse_address("garbage") is None
    assert parse_address("[2001:db8::1") is None


def test_the_record_context_carries_the_address() -> None:
    headers = CIMultiDictProxy(
        CIMultiDict(
            [
                ("User-Agent", "curl/8.5.0"),
                ("X-Forwarded-For", "1.1.1.1"),
                ("X-Forwarded-For", "198.51.100.4"),
            ]
        )
    )
    context = request_context(headers, "127.0.0.1", LOOPBACK)
    assert context.as_record_context() == {"userAgent": "curl/8.5.0", "ip": "198.51.100.4"}
    spoofed = request_context(headers, "203.0.113.7", LOOPBACK)
    assert spoofed.as_record_context()["ip"] == "203.0.113.7"
