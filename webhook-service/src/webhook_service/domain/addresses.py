"""Which URLs an endpoint may have and which addresses a delivery may reach (SSRF).

An endpoint URL is ``https`` (``http`` only for a loopback host, and only when
``WEBHOOK_ALLOW_HTTP_LOOPBACK`` is on), carries no user name or password, and every address
its host resolves to is public: not loopback, private, link-local, shared, reserved,
multicast, unspecified or a cloud metadata address (an IPv4-mapped IPv6 address counts as
the IPv4 address it carries), unless ``WEBHOOK_ALLOWED_NETWORKS`` names a network holding it.

The URL is checked when an endpoint is created or changed (:func:`check_url`, a 400
``unsafe_url``), and again at every delivery: the literal address of the URL before the
request, the addresses of a host name as they resolve then, on the connection's own
resolver (workers/client.py), so a name whose DNS changed since is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from coupon_core.errors import BadRequest
from yarl import URL

from webhook_service.settings import Network, Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services (AWS, GCP, Azure, OpenStack; AWS over IPv6; Alibaba Cloud):
# refused whatever else is said of the network they sit in.
METADATA: frozenset[Address] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
# The well-known prefix of NAT64 (RFC 6052): the last 32 bits are the IPv4 address reached.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOOPBACK_NAMES = frozenset({"localhost"})
HINT = "webhook endpoints must be reachable on the public internet (WEBHOOK_ALLOWED_NETWORKS)"


class UnsafeUrl(BadRequest):
    """An endpoint URL that may not be called."""

    code = "unsafe_url"


class UnsafeAddress(OSError):
    """An address a delivery may not connect to (raised on the delivery's resolver)."""


@dataclass(frozen=True, slots=True)
class Policy:
    allowed: tuple[Network, ...]
    allow_http_loopback: bool

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(settings.allowed_networks, settings.webhook_allow_http_loopback)


def _kind(address: Address) -> str | None:
    """What makes ``address`` not public, or None when it is public."""
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _embedded(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64): checked as
    that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address, allowed: tuple[Network, ...]) -> str | None:
    """Why a delivery may not connect to ``address``; None when it may."""
    checked = _embedded(address) or address
    if any(checked in network or address in network for network in allowed):
        return None
    return _kind(checked)


def check_address(address: Address, policy: Policy, *, host: str, literal: bool) -> None:
    """UnsafeAddress when a delivery to ``host`` may not connect to ``address``."""
    kind = refusal(address, policy.allowed)
    if kind is not None:
        where = f"{host} is" if literal else f"{host} resolves to {address},"
        raise UnsafeAddress(f"{where} {kind}; {HINT}")


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def parse(url: str, policy: Policy) -> URL:
    """The URL if its form may be called (scheme, credentials, a literal address);
    UnsafeUrl otherwise. A host name's addresses are not looked up here."""
    try:
        parsed = URL(url)
    except ValueError:
        raise UnsafeUrl(f"{url!r} is not a URL.") from None
    host = parsed.raw_host
    if not parsed.absolute or not host:
        raise UnsafeUrl("A webhook URL is absolute, such as https://example.com/hooks.")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise UnsafeUrl("A webhook URL may not carry a user name or password.")
    address = literal_address(host)
    if parsed.scheme == "http":
        loopback = host.lower().rstrip(".") in LOOPBACK_NAMES or (
            address is not None and address.is_loopback
        )
        if not (policy.allow_http_loopback and loopback):
            raise UnsafeUrl(
                "A webhook URL must be https (http only for a loopback host, when "
                "WEBHOOK_ALLOW_HTTP_LOOPBACK is on)."
            )
    elif parsed.scheme != "https":
        raise UnsafeUrl(f"A webhook URL must be https, not {parsed.scheme or 'schemeless'}.")
    if address is not None:
        try:
            check_address(address, policy, host=host, literal=True)
        except UnsafeAddress as exc:
            raise UnsafeUrl(f"The webhook URL's host {exc}.") from None
    return parsed


async def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now (the system's resolver)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_url(url: str, settings: Settings) -> None:
    """UnsafeUrl (400 ``unsafe_url``) unless ``url`` may be an endpoint's: its form, and
    every address its host resolves to now. A name that does not resolve (yet) is taken:
    nothing can be reached through it, and each delivery checks its addresses again."""
    policy = Policy.of(settings)
    parsed = parse(url, policy)
    host = parsed.raw_host
    assert host is not None
    if literal_address(host) is not None:
        return
    try:
        addresses = await resolve(host, parsed.port or 443)
    except (OSError, UnicodeError):
        return
    for address in addresses:
        try:
            check_address(address, policy, host=host, literal=False)
        except UnsafeAddress as exc:
            raise UnsafeUrl(f"The webhook URL's host {exc}.") from None
