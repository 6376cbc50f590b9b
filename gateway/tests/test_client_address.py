"""The client address: the TCP peer, or, when the peer is a trusted proxy, the right-most
forwarded address that is not a trusted proxy; and the TRUSTED_PROXIES setting."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from gateway.domain.addresses import TrustedProxies
from gateway.settings import Settings
from pydantic import ValidationError

PROXIES = TrustedProxies([ip_network("10.0.0.0/8"), ip_network("fd00::/8")])


@pytest.mark.parametrize(
    ("peer", "forwarded", "chain"),
    [
        # An untrusted peer: its own word about others is ignored.
        ("203.0.113.9", ["198.51.100.1"], ["203.0.113.9"]),
        # A trusted peer without forwarded addresses is the client itself.
        ("10.0.0.2", [], ["10.0.0.2"]),
        ("10.0.0.2", ["198.51.100.1"], ["198.51.100.1", "10.0.0.2"]),
        # What the client wrote before its own address is not believed.
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], ["198.51.100.1", "10.0.0.2"]),
        # Trusted hops are skipped from the right.
        ("10.0.0.2", ["198.51.100.1", "10.9.9.9"], ["198.51.100.1", "10.9.9.9", "10.0.0.2"]),
        # Only trusted hops: the left-most.
        ("10.0.0.2", ["10.0.0.7", "10.9.9.9"], ["10.0.0.7", "10.9.9.9", "10.0.0.2"]),
        # Ports, brackets, quotes; IPv6; IPv4-mapped IPv6 is IPv4.
        ("10.0.0.2", ["198.51.100.1:5555"], ["198.51.100.1", "10.0.0.2"]),
        ("10.0.0.2", ['"[2001:DB8::1]:4711"'], ["2001:db8::1", "10.0.0.2"]),
        ("::ffff:10.0.0.2", ["2001:db8::1"], ["2001:db8::1", "10.0.0.2"]),
        ("fd00::1", ["198.51.100.1"], ["198.51.100.1", "fd00::1"]),
        # Garbage where an address should be: the last hop that can be vouched for.
        ("10.0.0.2", ["198.51.100.1", "unknown"], ["10.0.0.2"]),
        ("10.0.0.2", ["198.51.100.1", "_hidden", "10.9.9.9"], ["10.9.9.9", "10.0.0.2"]),
        (None, ["198.51.100.1"], ["unknown"]),
    ],
)
def test_the_believed_chain(peer: str | None, forwarded: list[str], chain: list[str]) -> None:
    assert PROXIES.chain(peer, forwarded) == chain


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert TrustedProxies([]).chain("10.0.0.2", ["198.51.100.1"]) == ["10.0.0.2"]
    assert not TrustedProxies([])


STORES: dict[str, Any] = {
    "database_url": "postgresql://unused@127.0.0.1:1/unused",
    "redis_url": "redis://127.0.0.1:1/0",
    "identity_secret": TEST_IDENTITY_SECRET,
    "environment": "test",
    "promotion_upstreams": "http://127.0.0.1:1",
    "issuance_upstreams": "http://127.0.0.1:1",
    "redemption_upstreams": "http://127.0.0.1:1",
    "webhook_upstreams": "http://127.0.0.1:1",
}


def test_trusted_proxies_setting() -> None:
    assert Settings(**STORES).trusted_proxies == ()
    settings = Settings(**STORES, trusted_proxies=" 10.0.0.0/8, 192.168.1.1,fd00::/8 ")
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.1/32"),
        ip_network("fd00::/8"),
    )
    assert Settings(**STORES, trusted_proxy_header="forwarded").trusted_proxy_header == "Forwarded"
    for bad in ("10.0.0.1/8", "10.0.0.300/8", "proxy.local"):
        with pytest.raises(ValidationError, match="trusted_proxies"):
            Settings(**STORES, trusted_proxies=bad)
    with pytest.raises(ValidationError, match="trusted_proxy_header"):
        Settings(**STORES, trusted_proxy_header="X-Real-IP")
