"""The bodies the issuance-service answers with (Capillary v2, seed 002), as models: the
views in :mod:`issuance_service.api.views` build them, the API document describes them."""

from __future__ import annotations

from typing import Any, Literal

from coupon_core.responses import ResponseModel
from pydantic import Field


class IdentifierOut(ResponseModel):
    type: Literal["mobile", "email", "externalId"]
    value: str


class ProfileOut(ResponseModel):
    firstName: str
    lastName: str
    fields: dict[str, Any]
    allFields: dict[str, Any]
    identifiers: list[IdentifierOut]
    commChannels: list[Any]
    userId: int
    accountId: str
    autoUpdateTime: str
    identifiersAll: list[IdentifierOut]


class CustomerOut(ResponseModel):
    """The customer (the Capillary customer object)"""

    id: int
    profiles: list[ProfileOut]


class SeriesOut(ResponseModel):
    """The series, with its counters numIssued and numRedeemed"""

    id: int
    description: str
    discountCode: str
    discountType: Literal["ABS", "PERC"]
    discountValue: float
    discountUpto: float
    discountOn: Literal["BILL", "ITEM"]
    detailedInfo: str
    validTillDate: str
    validDaysFromCreation: int
    maxCreate: int
    maxRedeem: int
    redemptionPerCouponMaxLimit: int
    maxRedemptionsInSeriesPerUser: int
    sameUserMultipleRedeem: bool
    anyUser: bool
    maxVouchersPerUser: int
    minDaysBetweenVouchers: int
    couponPrefix: str
    couponSuffix: str
    randomCodeLength: int
    numIssued: int
    numRedeemed: int


class SeriesListOut(ResponseModel):
    """A page of series (by id, after the one given)"""

    series: list[SeriesOut]
    warnings: list[str]


class IssuedCouponOut(ResponseModel):
    """The issued coupon, as the Capillary seed shows it"""

    code: str
    seriesId: int
    description: str
    discountCode: str
    validTill: str
    discountType: Literal["ABS", "PERC"]
    discountValue: float
    discountUpto: float
    discountOn: Literal["BILL", "ITEM"]
    detailedInfo: str
    customer: CustomerOut
    redemptionCount: int
    id: int
    warnings: list[str]


class IssuedCodeOut(ResponseModel):
    id: int
    code: str
    validTill: str


class IssuedCouponsOut(ResponseModel):
    """Every coupon issued"""

    seriesId: int
    count: int
    codes: list[str]
    coupons: list[IssuedCodeOut]
    customer: CustomerOut
    warnings: list[str]


class CustomerCouponOut(ResponseModel):
    id: int
    code: str
    seriesId: int
    issuedAt: str
    validTill: str
    redemptionCount: int
    redeemed: bool
    expired: bool


class CustomerCouponsOut(ResponseModel):
    """The customer's issued coupons, with their redemption state"""

    customerId: int
    coupons: list[CustomerCouponOut]
    warnings: list[str]


class HourIssuesOut(ResponseModel):
    hour: str = Field(description="The hour's start, UTC (2026-05-09T13:00:00Z)")
    issued: int


class DayIssuesOut(ResponseModel):
    day: str = Field(description="The UTC day (2026-05-09)")
    issued: int


class SeriesIssuedOut(ResponseModel):
    id: int
    description: str
    numIssued: int
    maxCreate: int


class LimitedSeriesOut(SeriesIssuedOut):
    ratio: float = Field(description="numIssued / maxCreate, to 4 decimal places (1 for 0)")


class IssueStatsOut(ResponseModel):
    """Coupons issued per hour and per day, and per series against their limits"""

    hours: int
    days: int
    issuesPerHour: list[HourIssuesOut] = Field(
        description="The last `hours` UTC hours, oldest first, the current one included"
    )
    issuesPerDay: list[DayIssuesOut] = Field(
        description="The last `days` UTC days, oldest first, today included"
    )
    limitedSeries: list[LimitedSeriesOut] = Field(
        description="Series with a maxCreate, most of it issued first (at most 20)"
    )
    topSeries: list[SeriesIssuedOut] = Field(
        description="Series with coupons issued, most issued first (at most 10)"
    )
    warnings: list[str]
