"""Configuration of the redemption-service, from the environment (see docs/operations.md)."""

from __future__ import annotations

from coupon_core.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "redemption-service"
    port: int = 0
