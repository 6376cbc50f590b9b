"""Configuration of the redemption-service, from the environment (see docs/redemption.md)."""

from __future__ import annotations

from coupon_core.settings import RetentionSettings
from pydantic import Field


class Settings(RetentionSettings):
    service_name: str = "redemption-service"
    port: int = 0
    # How often the reconciler compares counters with the ledger (0 disables the task).
    reconcile_interval_s: float = Field(default=60.0, ge=0, le=86_400)
    relay_outbox: bool = True
    # Ledger batches of concurrent redeems in flight at once, each on its own connection
    # (db/group_commit.py); keep it below DB_POOL_MAX_SIZE.
    group_commit_concurrency: int = Field(default=4, ge=1, le=64)
