"""The client address the gateway records with each event: a spoofed header never believed."""

from multidict import CIMultiDict, CIMultiDictProxy

from common.client_address import LOOPBACK, parse_trusted_proxies
from ingest_gateway.ingest import request_context

PROXIES = parse_trusted_proxies(LOOPBACK)


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict([("User-Agent", "curl/8.5.0"), *pairs]))


def test_the_peer_is_recorded_without_a_proxy() -> None:
    context = request_context(headers(), "203.0.113.7", PROXIES)
    assert context.as_record_context() == {"userAgent": "curl/8.5.0", "ip": "203.0.113.7"}


def test_an_untrusted_peer_cannot_name_another_address() -> None:
    spoofed = headers(("X-Forwarded-For", "8.8.8.8"), ("X-Forwarded-For", "127.0.0.1"))
    assert request_context(spoofed, "203.0.113.7", PROXIES).ip == "203.0.113.7"


def test_a_trusted_proxy_forwards_the_right_most_untrusted_hop() -> None:
    # The client wrote 1.1.1.1 itself; the proxy appended the peer it saw, on its own line.
    forwarded = headers(("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "198.51.100.4"))
    assert request_context(forwarded, "127.0.0.1", PROXIES).ip == "198.51.100.4"
    assert request_context(forwarded, "::1", PROXIES).ip == "198.51.100.4"


def test_a_trusted_peer_is_itself_the_client_without_the_header() -> None:
    assert request_context(headers(), "127.0.0.1", PROXIES).ip == "127.0.0.1"


def test_no_peer_address_records_none() -> None:
    context = request_context(headers(("X-Forwarded-For", "8.8.8.8")), None, PROXIES)
    assert context.ip is None and "ip" not in context.as_record_context()
