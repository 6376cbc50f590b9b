"""The settings every proxied request reads, derived once when the application is made."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """What every proxied request reads from the settings, made once."""

    secret: bytes
    # No wait for a pooled connection (``connect``): the in-flight bound is the wait.
    timeout: aiohttp.ClientTimeout
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyConfig:
        return cls(
            secret=settings.identity_secret.get_secret_value().encode(),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=None,
                sock_connect=settings.upstream_connect_timeout_s,
                sock_read=settings.upstream_timeout_s,
            ),
            timeout_s=settings.upstream_timeout_s,
        )
