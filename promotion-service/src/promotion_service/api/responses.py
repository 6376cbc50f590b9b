"""The bodies the Sylius family answers with (seed 001), as models: the views in
:mod:`promotion_service.api.views` build them, the API document describes them. Null
fields are left out (``Omitted``)."""

from __future__ import annotations

from typing import Literal

from coupon_core.responses import Omitted, ResponseModel
from pydantic import Field

from promotion_service.api.schemas import Action, Rule


class Href(ResponseModel):
    href: str


class SelfLink(ResponseModel):
    self_: Href = Field(alias="self")


class PromotionLinks(SelfLink):
    coupons: Omitted[Href] = None  # when the promotion is coupon based


class PromotionOut(ResponseModel):
    """The promotion"""

    id: int
    code: str
    name: str
    description: Omitted[str] = None
    priority: int
    exclusive: bool
    usageLimit: Omitted[int] = None
    used: int
    couponBased: bool
    startsAt: Omitted[str] = None
    endsAt: Omitted[str] = None
    rules: list[Rule]
    actions: list[Action]
    channels: list[str]
    createdAt: str
    updatedAt: str
    links: PromotionLinks = Field(alias="_links")


class CouponLinks(SelfLink):
    promotion: Href


class CouponSummary(ResponseModel):
    # The fields a coupon shows first wherever it is shown, alone or in a list.
    id: int
    code: str
    usageLimit: Omitted[int] = None
    used: int
    expiresAt: Omitted[str] = None


class PromotionCouponOut(CouponSummary):
    """The promotion coupon"""

    createdAt: str
    updatedAt: str
    perCustomerUsageLimit: Omitted[int] = None
    links: CouponLinks = Field(alias="_links")


class PromotionCouponItemOut(CouponSummary):
    """A coupon as a list shows it"""

    links: SelfLink = Field(alias="_links")


class PageLinks(SelfLink):
    first: Href
    last: Href
    next: Omitted[Href] = None
    previous: Omitted[Href] = None


class Page(ResponseModel):
    page: int
    limit: int
    pages: int
    total: int
    links: PageLinks = Field(alias="_links")


class PromotionItems(ResponseModel):
    items: list[PromotionOut]


class PromotionPageOut(Page):
    """A page of promotions"""

    embedded: PromotionItems = Field(alias="_embedded")


class PromotionCouponItems(ResponseModel):
    items: list[PromotionCouponItemOut]


class PromotionCouponPageOut(Page):
    """A page of the promotion's coupons"""

    embedded: PromotionCouponItems = Field(alias="_embedded")


class GeneratedOut(ResponseModel):
    """Every code generated: how many"""

    amount: int


class JobLinks(SelfLink):
    coupons: Href


class GenerationJobOut(ResponseModel):
    """The generation job"""

    id: int
    state: Literal["pending", "running", "done", "failed"]
    done: int
    total: int
    error: Omitted[str] = None
    createdAt: str
    updatedAt: str
    links: JobLinks = Field(alias="_links")


class LimitedPromotionOut(ResponseModel):
    code: str
    name: str
    used: int
    usageLimit: int
    ratio: float = Field(description="used / usageLimit, to 4 decimal places")
    links: SelfLink = Field(alias="_links")


class TopPromotionOut(ResponseModel):
    code: str
    name: str
    used: int
    usageLimit: Omitted[int] = None
    links: SelfLink = Field(alias="_links")


class LimitedCouponOut(ResponseModel):
    promotionCode: str
    code: str
    used: int
    usageLimit: int
    ratio: float = Field(description="used / usageLimit, to 4 decimal places")
    links: SelfLink = Field(alias="_links")


class JobSummaryOut(ResponseModel):
    promotionCode: str
    jobId: int
    state: Literal["pending", "running", "done", "failed"]
    requested: int
    generated: int
    error: Omitted[str] = None
    createdAt: str
    updatedAt: str
    links: SelfLink = Field(alias="_links")


class PromotionStatsOut(ResponseModel):
    """Budget burn of limited promotions and coupons, the most used promotions, and the
    generation jobs"""

    limitedPromotions: list[LimitedPromotionOut] = Field(
        description="Promotions with a usage limit, most of it used first (at most 20)"
    )
    limitedCoupons: list[LimitedCouponOut] = Field(
        description="Coupons with a usage limit used at least once, most of it used first "
        "(at most 20)"
    )
    topPromotions: list[TopPromotionOut] = Field(
        description="Promotions used at least once, most used first (at most 10)"
    )
    generationJobs: list[JobSummaryOut] = Field(
        description="Unfinished jobs of every promotion, oldest first (at most 100), then "
        "the 10 finished last, newest first"
    )
