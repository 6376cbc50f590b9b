"""Which URLs an endpoint may have (the check at create and update, 400 unsafe_url), and
which addresses the deliverer's resolver lets a connection reach."""

from __future__ import annotations

from typing import Any

import pytest
from webhook_service.domain.addresses import Policy, UnsafeAddress, UnsafeUrl, check_url
from webhook_service.settings import Settings
from webhook_service.workers.client import SafeResolver

STORES: dict[str, Any] = {
    "database_url": "postgresql://localhost/unused",
    "redis_url": "redis://localhost",
    "identity_secret": "an-identity-secret-for-tests",
}


def _settings(**values: Any) -> Settings:
    return Settings(**STORES, **values)


async def _refused(url: str, **values: Any) -> str:
    with pytest.raises(UnsafeUrl) as refused:
        await check_url(url, _settings(**values))
    assert refused.value.code == "unsafe_url"
    assert refused.value.status == 400
    return refused.value.message


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.20.30.40", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.254", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("[fd00:ec2::254]", "a cloud metadata address"),
        ("[::ffff:127.0.0.1]", "a loopback address"),
        ("[::ffff:10.0.0.1]", "a private address"),
        ("0.0.0.0", "the unspecified address"),
        ("224.0.0.251", "a multicast address"),
        ("[ff02::1]", "a multicast address"),
        ("[fd12:3456::1]", "a private address"),
        ("[fe80::1]", "a link-local address"),
        ("169.254.10.1", "a link-local address"),
        ("[::1]", "a loopback address"),
        ("100.64.0.1", "not a public address"),
    ],
)
async def test_addresses_that_are_not_public_are_refused(host: str, kind: str) -> None:
    message = await _refused(f"https://{host}/hooks")
    assert kind in message
    assert "WEBHOOK_ALLOWED_NETWORKS" in message


async def test_public_addresses_are_taken() -> None:
    await check_url("https://93.184.215.14/hooks", _settings())
    await check_url("https://[2606:4700::1111]:8443/hooks", _settings())
    await check_url("https://[::ffff:93.184.215.14]/hooks", _settings())


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    message = await _refused("https://localhost/hooks")
    assert "localhost resolves to 127.0.0.1, a loopback address" in message
    # Legacy spellings of an IPv4 address are names the resolver turns into addresses.
    assert "a loopback address" in await _refused("https://2130706433/hooks")
    assert "a loopback address" in await _refused("https://127.1/hooks")


async def test_a_name_that_does_not_resolve_is_taken() -> None:
    # Nothing can be reached through it; each delivery resolves and checks it again.
    await check_url("https://hooks.does-not-exist.invalid/x", _settings())


async def test_the_allowlist_admits_its_networks() -> None:
    await check_url("https://10.1.2.3/hooks", _settings(webhook_allowed_networks="10.0.0.0/8"))
    await check_url("https://[fd12::7]/x", _settings(webhook_allowed_networks="fd12::/16"))
    allow_mapped = _settings(webhook_allowed_networks="127.0.0.0/8")
    await check_url("https://[::ffff:127.0.0.1]/x", allow_mapped)
    assert "a private address" in await _refused(
        "https://192.168.0.1/x", webhook_allowed_networks="10.0.0.0/8"
    )


async def test_http_only_for_loopback_and_only_when_allowed() -> None:
    loopback = {"webhook_allowed_networks": "127.0.0.0/8"}
    assert "must be https" in await _refused("http://93.184.215.14/hooks")
    assert "must be https" in await _refused("http://127.0.0.1:8080/hooks", **loopback)
    assert "must be https" in await _refused(
        "http://93.184.215.14/hooks", webhook_allow_http_loopback=True
    )
    dev = _settings(webhook_allow_http_loopback=True, **loopback)
    await check_url("http://127.0.0.1:8080/hooks", dev)
    await check_url("http://localhost:8080/hooks", dev)
    # The dev setting opens http, not loopback: that is the allowlist's to say.
    assert "a loopback address" in await _refused(
        "http://127.0.0.1:8080/hooks", webhook_allow_http_loopback=True
    )
    assert "must be https" in await _refused("ftp://93.184.215.14/hooks")


async def test_credentials_in_the_url_are_refused() -> None:
    assert "user name or password" in await _refused("https://crm:secret@93.184.215.14/x")
    assert "user name or password" in await _refused("https://crm@93.184.215.14/x")


async def test_the_delivery_resolver_refuses_a_name_resolving_to_loopback() -> None:
    resolver = SafeResolver(Policy.of(_settings()))
    try:
        with pytest.raises(UnsafeAddress, match=r"localhost resolves to 127\.0\.0\.1"):
            await resolver.resolve("localhost", 443)
    finally:
        await resolver.close()
    allowing = SafeResolver(Policy.of(_settings(webhook_allowed_networks="127.0.0.0/8")))
    try:
        found = await allowing.resolve("localhost", 443)
    finally:
        await allowing.close()
    assert {entry["host"] for entry in found} == {"127.0.0.1"}
