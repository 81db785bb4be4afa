"""Who the client is: the peer address, or what a trusted proxy says it saw.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far
as it was appended by proxies we trust (``RA_TRUSTED_PROXIES``, default loopback). The
list is read right to left: each entry was appended by the hop to its right; the first
entry not itself a trusted proxy is the client. A client that forges the header only adds
entries to the left of the one our proxy appended, so it cannot choose its address.

Throttles count by ``throttle_address``: an IPv6 client usually holds a whole /64, so its
addresses count as one.
"""

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK = "127.0.0.0/8,::1/128"
UNKNOWN = "unknown"


def parse_trusted_proxies(text: str) -> tuple[IpNetwork, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; an empty string trusts no proxy."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _address(text: str) -> IpAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:5678"
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IpAddress, proxies: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def forwarded_chain(headers: Iterable[str]) -> list[str]:
    """Every ``X-Forwarded-For`` header's entries, in order (repeated headers joined)."""
    return [entry.strip() for header in headers for entry in header.split(",") if entry.strip()]


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[IpNetwork]
) -> str:
    """The client's address as text, or ``"unknown"`` when the peer has none (a socket
    without an IP address)."""
    current = _address(peer) if peer else None
    if current is None:
        return UNKNOWN
    for entry in reversed(forwarded_for):
        if not _trusted(current, proxies):
            break
        hop = _address(entry)
        if hop is None:  # garbage a trusted proxy would not write: stop at what we know
            break
        current = hop
    return str(current)


def throttle_address(address: str) -> str:
    """The unit a throttle counts: the address itself, or its /64 for IPv6."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address if parsed is None else str(parsed)


def request_client_address(request: web.BaseRequest, proxies: Sequence[IpNetwork]) -> str:
    forwarded = forwarded_chain(request.headers.getall("X-Forwarded-For", []))
    return client_address(request.remote, forwarded, proxies)


def request_is_https(request: web.BaseRequest, proxies: Sequence[IpNetwork]) -> bool:
    """Whether the client reached us over HTTPS: our own TLS, or a trusted proxy's
    ``X-Forwarded-Proto: https``."""
    if request.secure:
        return True
    peer = _address(request.remote) if request.remote else None
    if peer is None or not _trusted(peer, proxies):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https"
