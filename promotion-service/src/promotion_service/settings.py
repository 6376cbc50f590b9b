"""Configuration of the promotion-service, from the environment (see docs/operations.md)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coupon_core.settings import RetentionSettings
from pydantic import Field, field_validator


class Settings(RetentionSettings):
    service_name: str = "promotion-service"
    port: int = 0
    # Dates without a time zone are read in this zone, and every date is written in it.
    timezone: str = "UTC"
    # Generation: up to ``generation_sync_limit`` codes are made within the request.
    generation_sync_limit: int = Field(default=10_000, ge=1, le=100_000)
    generation_batch_size: int = Field(default=20_000, ge=100, le=100_000)
    generation_max_amount: int = Field(default=10_000_000, ge=1)
    # A replica holds a job for this long past its last batch; a dead replica's job is
    # taken over once it lapses.
    job_lease_s: float = Field(default=15.0, gt=0, le=3600)
    job_poll_s: float = Field(default=0.5, gt=0, le=60)
    # How often the republisher checks that Redis still holds our facts.
    facts_check_s: float = Field(default=1.0, gt=0, le=60)
    facts_batch_size: int = Field(default=20_000, ge=100, le=100_000)
    # How long an expired coupon or an ended promotion keeps its Redis keys (and still
    # answers "expired") before the redis_dead_objects retention job retires them.
    dead_object_grace_days: int = Field(default=30, ge=0, le=3650)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
