"""The bodies the issuance-service answers with (Capillary v2, seed 002), as models: the
views in :mod:`issuance_service.api.views` build them, the API document describes them."""

from __future__ import annotations

from typing import Any, Literal

from coupon_core.responses import ResponseModel


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
