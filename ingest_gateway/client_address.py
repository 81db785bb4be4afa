"""The client address recorded with each event: the peer, or the proxy chain's client.

``X-Forwarded-For`` is anyone's to write, so it is believed only as far as the proxies we
run wrote it: walking the chain from the peer leftwards, each trusted hop
(``RA_TRUSTED_PROXIES``) passes on to the address before it, and the first untrusted one
is the client. From an untrusted peer the header is ignored (a client could name any
address). The workers turn the address into a country and drop it (decision 0017).
"""

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_TRUSTED_PROXIES = ("127.0.0.0/8", "::1/128")


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies' networks; a bad CIDR raises ValueError (a settings error)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def parse_address(text: str) -> Address | None:
    """An address as a peer or a forwarding hop names it (``1.2.3.4``, ``1.2.3.4:5678``,
    ``[::1]:80``, ``::1``), IPv4-mapped IPv6 as IPv4; None if it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port (IPv6 has two colons or more)
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str | None:
    """The client's address: the peer's, or — the peer being a trusted proxy — the
    right-most address of ``X-Forwarded-For`` (every header line, in order) that is not a
    trusted proxy. A hop that is not an address ends the walk at the last good one (what
    wrote it is not a proxy of ours); a chain of only trusted hops gives its left-most."""
    current = parse_address(peer) if peer else None
    if current is None:
        return None
    hops = [h for line in forwarded_for for h in line.split(",")]
    while hops and trusted(current, proxies):
        previous = parse_address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)
