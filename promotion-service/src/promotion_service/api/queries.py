"""The query parameters of the Sylius lists, as the API document describes them (the
handlers read them with :func:`promotion_service.api.pagination.page_request`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from promotion_service.api.pagination import DEFAULT_LIMIT, MAX_PAGE

Direction = Literal["asc", "desc"] | None


class PageQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="The page, from 1.")
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_PAGE, description="Items per page, at most 100."
    )
    paginate: int | None = Field(
        default=None, ge=1, le=MAX_PAGE, description="Another name of limit."
    )


class PromotionListQuery(PageQuery):
    sorting_code: Direction = Field(default=None, alias="sorting[code]")
    sorting_name: Direction = Field(default=None, alias="sorting[name]")
    sorting_priority: Direction = Field(default=None, alias="sorting[priority]")
    criteria_search: str | None = Field(
        default=None, alias="criteria[search]", description="Code or name contains this."
    )
    criteria_coupon_based: Literal["true", "false"] | None = Field(
        default=None, alias="criteria[couponBased]"
    )


class CouponListQuery(PageQuery):
    sorting_code: Direction = Field(default=None, alias="sorting[code]")
    sorting_usage_limit: Direction = Field(default=None, alias="sorting[usageLimit]")
    sorting_expires_at: Direction = Field(default=None, alias="sorting[expiresAt]")
