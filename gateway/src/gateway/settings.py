"""Configuration of the gateway, from the environment (see docs/operations.md)."""

from __future__ import annotations

from coupon_core.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator


def _split_urls(value: str) -> str:
    urls = [part.strip() for part in value.split(",") if part.strip()]
    if not urls:
        raise ValueError("at least one upstream URL is required")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
    return ",".join(url.rstrip("/") for url in urls)


class Settings(ServiceSettings):
    service_name: str = "gateway"
    port: int = Field(default=8080, ge=0, le=65535)
    # Comma-separated base URLs of each service's replicas (a Kubernetes Service is one URL).
    promotion_upstreams: str
    issuance_upstreams: str
    redemption_upstreams: str
    upstream_connect_timeout_s: float = Field(default=1.0, gt=0, le=30)
    upstream_timeout_s: float = Field(default=30.0, gt=0, le=600)
    upstream_pool_size: int = Field(default=256, ge=1, le=10_000)
    # SPEC section 2: when set, an API token "bootstrap-admin" with this secret and the "*"
    # whitelist is ensured at start-up.
    bootstrap_admin_token: SecretStr | None = None

    _check_promotion = field_validator("promotion_upstreams")(_split_urls)
    _check_issuance = field_validator("issuance_upstreams")(_split_urls)
    _check_redemption = field_validator("redemption_upstreams")(_split_urls)
