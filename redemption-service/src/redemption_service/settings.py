"""Configuration of the redemption-service, from the environment (see docs/redemption.md)."""

from __future__ import annotations

from datetime import timedelta

from coupon_core.settings import RetentionSettings
from pydantic import Field

# The longest window the statistics answer (GET /v2/coupon/redemptions/stats?days=).
STATS_MAX_DAYS = 90


class Settings(RetentionSettings):
    service_name: str = "redemption-service"
    port: int = 0
    # How often the reconciler compares counters with the ledger (0 disables the task).
    reconcile_interval_s: float = Field(default=60.0, ge=0, le=86_400)
    # Every group is compared with the ledger once in this many hours, a slice per pass (each
    # pass also checks the groups with ledger activity since the pass before, counted from
    # RECONCILE_MARGIN_S earlier so that a commit in flight is not missed).
    reconcile_full_sweep_h: float = Field(default=24.0, gt=0, le=720)
    reconcile_margin_s: float = Field(default=30.0, ge=0, le=3600)
    relay_outbox: bool = True
    # Ledger batches of concurrent redeems in flight at once, each on its own connection
    # (db/group_commit.py); keep it below DB_POOL_MAX_SIZE.
    group_commit_concurrency: int = Field(default=4, ge=1, le=64)
    # The ledger's monthly partitions (docs/redemption.md, "The ledger at volume"): months
    # kept created ahead of the current one; months kept attached before it (0: every
    # month, nothing archived); how long their DDL waits for a lock before trying next pass.
    ledger_partitions_ahead: int = Field(default=3, ge=1, le=24)
    ledger_online_months: int = Field(default=0, ge=0, le=1200)
    ledger_lock_timeout_ms: int = Field(default=200, ge=10, le=60_000)
    # The statistics' outcome tallies (docs/redemption.md, "Statistics"): how often each
    # replica adds what it counted to PostgreSQL (a crash loses at most this much of its
    # counts), and how many days of them are kept.
    stats_flush_s: float = Field(default=5.0, gt=0, le=300)
    stats_retention_days: int = Field(default=400, ge=STATS_MAX_DAYS, le=3660)

    @property
    def stats_retention(self) -> timedelta:
        return timedelta(days=self.stats_retention_days)
