"""Configuration of the webhook-service, from the environment (see docs/configuration.md)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from coupon_core.settings import RetentionSettings
from pydantic import Field, field_validator, model_validator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Deliveries are retried for at least three days (SPEC section 10).
RETRY_WINDOW_FLOOR_H = 72


class Settings(RetentionSettings):
    service_name: str = "webhook-service"
    port: int = 0
    # An attempt that has no complete answer within this many seconds failed.
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    # A delivery is retried until its first attempt is this old, then given up.
    webhook_retry_window_h: int = Field(default=72, ge=RETRY_WINDOW_FLOOR_H, le=24 * 30)
    # The n-th retry waits min(max, base * 2**(n-1)), less up to half of it at random.
    webhook_retry_base_s: float = Field(default=5.0, gt=0, le=3600)
    webhook_retry_max_delay_s: float = Field(default=21_600.0, gt=0, le=86_400)
    # An endpoint failing every attempt for this long is disabled (webhook.disabled).
    webhook_disable_after_h: int = Field(default=120, ge=1, le=24 * 90)
    # Comma-separated networks (CIDR) an endpoint may reach although they are not public:
    # empty by default, so loopback, private, link-local and metadata addresses are refused.
    webhook_allowed_networks: str = ""
    # http:// only for a loopback host, and only when this is on (local development).
    webhook_allow_http_loopback: bool = False
    # At most this much of a response is read; the connection is dropped after it.
    webhook_response_max_bytes: int = Field(default=65_536, ge=1024, le=10 * 1024 * 1024)
    # Attempts in flight per replica, and per endpoint per replica.
    webhook_concurrency: int = Field(default=64, ge=1, le=10_000)
    webhook_endpoint_concurrency: int = Field(default=16, ge=1, le=10_000)
    # Deliveries one claim takes at most.
    webhook_claim_batch: int = Field(default=200, ge=1, le=10_000)
    # How often an idle deliverer looks for due deliveries.
    webhook_poll_s: float = Field(default=0.2, gt=0, le=60)
    # How long the previous secret stays valid after a rotation, unless the call says.
    webhook_secret_grace_h: int = Field(default=24, ge=0, le=24 * 7)
    # The attempt log, and delivered or given-up events, are kept this long.
    webhook_attempt_retention_h: int = Field(default=720, ge=1, le=24 * 366)
    webhook_event_retention_h: int = Field(default=720, ge=RETRY_WINDOW_FLOOR_H, le=24 * 366)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in _split(value):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not a network (CIDR)") from None
        return value

    @model_validator(mode="after")
    def _windows(self) -> Settings:
        if self.webhook_event_retention_h < self.webhook_retry_window_h:
            raise ValueError(
                "WEBHOOK_EVENT_RETENTION_H must be at least WEBHOOK_RETRY_WINDOW_H "
                "(an event is kept while it may still be retried)"
            )
        return self

    @property
    def allowed_networks(self) -> tuple[Network, ...]:
        return tuple(
            ipaddress.ip_network(part, strict=False)
            for part in _split(self.webhook_allowed_networks)
        )

    @property
    def retry_window(self) -> timedelta:
        return timedelta(hours=self.webhook_retry_window_h)

    @property
    def disable_after(self) -> timedelta:
        return timedelta(hours=self.webhook_disable_after_h)

    @property
    def secret_grace(self) -> timedelta:
        return timedelta(hours=self.webhook_secret_grace_h)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
