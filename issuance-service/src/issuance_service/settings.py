"""Configuration of the issuance-service, from the environment (see docs/operations.md)."""

from __future__ import annotations

from coupon_core.settings import RetentionSettings
from pydantic import Field


class Settings(RetentionSettings):
    service_name: str = "issuance-service"
    port: int = 0
    # How often the reconciler compares series counters with the issued coupons (0 disables
    # the task).
    reconcile_interval_s: float = Field(default=60.0, ge=0, le=86_400)
    # Every series is compared with its coupons once in this many hours, a slice per pass
    # (each pass also checks the series issued from since the pass before, counted from
    # RECONCILE_MARGIN_S earlier: commits in flight, and replicas' clocks, which stamp
    # issued_at).
    reconcile_full_sweep_h: float = Field(default=24.0, gt=0, le=720)
    reconcile_margin_s: float = Field(default=30.0, ge=0, le=3600)
    # How often a pass of the tally counts the issues of the hours that have ended into
    # issue_hours and series_issued (0: never, and every stats read counts every coupon
    # issued since the last pass).
    issue_tally_interval_s: float = Field(default=60.0, ge=0, le=3600)
    # How long a coupon or series past its validity keeps its Redis keys (and still answers
    # "expired") before the redis_dead_objects retention job retires them.
    dead_object_grace_days: int = Field(default=30, ge=0, le=3650)
