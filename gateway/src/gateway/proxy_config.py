"""The settings every proxied request reads, derived once when the application is made."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """What every proxied request reads from the settings, made once."""

    secret: bytes
    # Between two reads of an answer (the connect timeout is the connections' own).
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyConfig:
        return cls(
            secret=settings.identity_secret.get_secret_value().encode(),
            timeout_s=settings.upstream_timeout_s,
        )
