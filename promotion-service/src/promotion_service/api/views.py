"""Response bodies: the Sylius shapes of :mod:`promotion_service.api.responses`, built from
what the service stores (null fields left out, dates in the service's zone)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from promotion_service.api.responses import (
    CouponLinks,
    GenerationJobOut,
    Href,
    JobLinks,
    JobSummaryOut,
    LimitedCouponOut,
    LimitedPromotionOut,
    PromotionCouponItemOut,
    PromotionCouponOut,
    PromotionLinks,
    PromotionOut,
    PromotionStatsOut,
    SelfLink,
    TopPromotionOut,
)
from promotion_service.db.stats import PromotionStats
from promotion_service.domain.models import Coupon, GenerationJob, Promotion
from promotion_service.domain.times import format_date

BASE = "/api/v1/promotions"


def promotion_href(code: str) -> str:
    return f"{BASE}/{code}"


def coupon_href(promotion_code: str, code: str) -> str:
    return f"{BASE}/{promotion_code}/coupons/{code}"


def _date(value: datetime | None, zone: tzinfo) -> str | None:
    return None if value is None else format_date(value, zone)


def _summary(c: Coupon, zone: tzinfo) -> dict[str, Any]:
    """The fields of :class:`CouponSummary`, which both views of a coupon start with."""
    return {
        "id": c.id,
        "code": c.code,
        "usageLimit": c.usage_limit,
        "used": c.used,
        "expiresAt": _date(c.expires_at, zone),
    }


def coupon(c: Coupon, zone: tzinfo) -> PromotionCouponOut:
    return PromotionCouponOut(
        **_summary(c, zone),
        createdAt=format_date(c.created_at, zone),
        updatedAt=format_date(c.updated_at, zone),
        perCustomerUsageLimit=c.per_customer_usage_limit,
        links=CouponLinks(
            self_=Href(href=coupon_href(c.promotion_code, c.code)),
            promotion=Href(href=promotion_href(c.promotion_code)),
        ),
    )


def coupon_item(c: Coupon, zone: tzinfo) -> PromotionCouponItemOut:
    return PromotionCouponItemOut(
        **_summary(c, zone),
        links=SelfLink(self_=Href(href=coupon_href(c.promotion_code, c.code))),
    )


def promotion(p: Promotion, zone: tzinfo) -> PromotionOut:
    coupons = Href(href=f"{promotion_href(p.code)}/coupons/") if p.coupon_based else None
    return PromotionOut.model_validate(
        {
            "id": p.id,
            "code": p.code,
            "name": p.name,
            "description": p.description,
            "priority": p.priority,
            "exclusive": p.exclusive,
            "usageLimit": p.usage_limit,
            "used": p.used,
            "couponBased": p.coupon_based,
            "startsAt": _date(p.starts_at, zone),
            "endsAt": _date(p.ends_at, zone),
            "rules": p.rules,  # stored as the form accepted them
            "actions": p.actions,
            "channels": p.channels,
            "createdAt": format_date(p.created_at, zone),
            "updatedAt": format_date(p.updated_at, zone),
            "_links": PromotionLinks(self_=Href(href=promotion_href(p.code)), coupons=coupons),
        }
    )


def job_href(j: GenerationJob) -> str:
    return f"{promotion_href(j.promotion_code)}/coupons/generate/{j.id}"


def job(j: GenerationJob, zone: tzinfo) -> GenerationJobOut:
    href = job_href(j)
    return GenerationJobOut.model_validate(
        {
            "id": j.id,
            "state": j.state,
            "done": j.done,
            "total": j.total,
            "error": j.error,
            "createdAt": format_date(j.created_at, zone),
            "updatedAt": format_date(j.updated_at, zone),
            "_links": JobLinks(
                self_=Href(href=href),
                coupons=Href(href=f"{promotion_href(j.promotion_code)}/coupons/"),
            ),
        }
    )


def _self(href: str) -> SelfLink:
    return SelfLink(self_=Href(href=href))


def _ratio(used: int, limit: int) -> float:
    return round(used / limit, 4)


def stats(found: PromotionStats, zone: tzinfo) -> PromotionStatsOut:
    return PromotionStatsOut(
        limitedPromotions=[
            LimitedPromotionOut(
                code=p.code,
                name=p.name,
                used=p.used,
                usageLimit=p.usage_limit,
                ratio=_ratio(p.used, p.usage_limit),
                links=_self(promotion_href(p.code)),
            )
            for p in found.limited_promotions
            if p.usage_limit is not None
        ],
        limitedCoupons=[
            LimitedCouponOut(
                promotionCode=c.promotion_code,
                code=c.code,
                used=c.used,
                usageLimit=c.usage_limit,
                ratio=_ratio(c.used, c.usage_limit),
                links=_self(coupon_href(c.promotion_code, c.code)),
            )
            for c in found.limited_coupons
        ],
        topPromotions=[
            TopPromotionOut(
                code=p.code,
                name=p.name,
                used=p.used,
                usageLimit=p.usage_limit,
                links=_self(promotion_href(p.code)),
            )
            for p in found.top_promotions
        ],
        generationJobs=[
            JobSummaryOut.model_validate(
                {
                    "promotionCode": j.promotion_code,
                    "jobId": j.id,
                    "state": j.state,
                    "requested": j.total,
                    "generated": j.done,
                    "error": j.error,
                    "createdAt": format_date(j.created_at, zone),
                    "updatedAt": format_date(j.updated_at, zone),
                    "_links": _self(job_href(j)),
                }
            )
            for j in found.jobs
        ],
    )
