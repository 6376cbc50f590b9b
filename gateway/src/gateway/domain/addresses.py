"""The client address behind trusted proxies (``TRUSTED_PROXIES``).

A forwarded address is believed only as far as trusted proxies vouch for it: reading the
forwarded addresses from the right (the peer's own entry last), every trusted proxy is
skipped, and the first address that is not one is the client; what lies left of it was
written by the client and is ignored. A peer that is not a trusted proxy is the client,
whatever it forwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

UNKNOWN = "unknown"


def parse_address(text: str) -> Address | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:80``, ``2001:db8::1``,
    ``[2001:db8::1]:80``, quoted or not; ``None`` for anything else (``unknown``,
    obfuscated identifiers)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, networks: Iterable[Network]) -> None:
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self._networks)

    def chain(self, peer: str | None, forwarded: Sequence[str]) -> list[str]:
        """The addresses the gateway can vouch for, client first and the peer last.

        ``forwarded`` is what the peer sent, in order (each proxy appends the address it
        received the request from). An entry that is not an address stops the walk: the
        proxy right of it is the farthest the gateway can vouch for.
        """
        address = parse_address(peer) if peer else None
        if address is None:
            return [peer or UNKNOWN]
        believed = [str(address)]
        if not self.trusts(address):
            return believed
        for entry in reversed(forwarded):
            hop = parse_address(entry)
            if hop is None:
                break
            believed.append(str(hop))
            if not self.trusts(hop):
                break
        return believed[::-1]
