"""What ``GET /api/v1/promotion-stats`` reads: budget burn, the most used promotions and the
generation jobs, each a short read whatever the size of the coupons table
(docs/promotions.md, "Statistics")."""

from __future__ import annotations

from dataclasses import dataclass

from coupon_core.db import Connection

from promotion_service.db import jobs as job_db
from promotion_service.domain.models import CouponUsage, GenerationJob, PromotionUsage

# The promotions table holds one row per promotion: read whole, it is small.
_PROMOTION = "SELECT code, name, used, usage_limit FROM promotions"
LIMITED_PROMOTIONS = (
    f"{_PROMOTION} WHERE usage_limit > 0 "
    "ORDER BY used::float8 / usage_limit DESC, used DESC, id LIMIT $1"
)
TOP_PROMOTIONS = f"{_PROMOTION} WHERE used > 0 ORDER BY used DESC, id LIMIT $1"
# In the order of the index coupons_burn (migration 0005), which holds exactly these rows.
LIMITED_COUPONS = (
    "SELECT p.code AS promotion_code, c.code, c.used, c.usage_limit "
    "FROM coupons c JOIN promotions p ON p.id = c.promotion_id "
    "WHERE c.used > 0 AND c.usage_limit > 0 "
    "ORDER BY c.used::float8 / c.usage_limit DESC, c.used DESC, c.id LIMIT $1"
)
# Unfinished jobs through the partial index generation_jobs_unfinished, oldest first; the
# finished ones by id from the newest (nearly every job is a finished one).
UNFINISHED_JOBS = (
    f"SELECT {job_db.COLUMNS} FROM generation_jobs j JOIN promotions p ON p.id = j.promotion_id "
    "WHERE j.state IN ('pending', 'running') ORDER BY j.id LIMIT $1"
)
FINISHED_JOBS = (
    f"SELECT {job_db.COLUMNS} FROM generation_jobs j JOIN promotions p ON p.id = j.promotion_id "
    "WHERE j.state IN ('done', 'failed') ORDER BY j.id DESC LIMIT $1"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """How many of each list one answer holds."""

    limited_promotions: int = 20
    limited_coupons: int = 20
    top_promotions: int = 10
    unfinished_jobs: int = 100
    finished_jobs: int = 10


@dataclass(frozen=True, slots=True)
class PromotionStats:
    limited_promotions: list[PromotionUsage]
    limited_coupons: list[CouponUsage]
    top_promotions: list[PromotionUsage]
    jobs: list[GenerationJob]  # unfinished first (oldest first), then the last finished


async def read(conn: Connection, limits: Limits = Limits()) -> PromotionStats:
    """Every list, from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        limited = await conn.fetch(LIMITED_PROMOTIONS, limits.limited_promotions)
        coupons = await conn.fetch(LIMITED_COUPONS, limits.limited_coupons)
        top = await conn.fetch(TOP_PROMOTIONS, limits.top_promotions)
        unfinished = await conn.fetch(UNFINISHED_JOBS, limits.unfinished_jobs)
        finished = await conn.fetch(FINISHED_JOBS, limits.finished_jobs)
    return PromotionStats(
        limited_promotions=[PromotionUsage(**dict(row)) for row in limited],
        limited_coupons=[CouponUsage(**dict(row)) for row in coupons],
        top_promotions=[PromotionUsage(**dict(row)) for row in top],
        jobs=[job_db.to_job(row) for row in (*unfinished, *finished)],
    )
