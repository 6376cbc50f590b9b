"""The bodies the redemption-service answers with (Capillary v1.1 and v2, seed 003; CRM,
seed 000), as models: the views build them, the API document describes them."""

from __future__ import annotations

from typing import Any, Literal

from coupon_core.families import CapillaryStatus
from coupon_core.responses import Omitted, ResponseModel
from pydantic import Field

Flag = Literal["true", "false"]  # Capillary v1.1 writes booleans as strings


class CustomerEcho(ResponseModel):
    """The customer as the request named it (id only when given)."""

    mobile: str
    email: str
    external_id: str
    id: Omitted[str] = None


class ItemStatusOut(ResponseModel):
    success: Flag
    code: int
    message: str


class TransactionOut(ResponseModel):
    amount: str
    number: str


class RedeemedCouponOut(ResponseModel):
    customer: CustomerEcho
    redemption_id: str
    code: str
    discount_code: str
    series_code: str
    series_info: list[Any]
    is_absolute: Flag
    coupon_value: str
    transaction: TransactionOut
    side_effects: list[Any]
    item_status: ItemStatusOut


class RedeemedCoupons(ResponseModel):
    coupon: RedeemedCouponOut | list[RedeemedCouponOut]  # one coupon: the object itself


class RedeemResponse(ResponseModel):
    status: CapillaryStatus
    coupons: RedeemedCoupons


class RedeemOut(ResponseModel):
    """Per-coupon results and the overall status (as the Capillary seed)"""

    response: RedeemResponse


class RedeemableCouponOut(ResponseModel):
    customer: CustomerEcho
    code: str
    discount_code: str
    series_code: str
    series_info: list[Any]
    is_absolute: Flag
    coupon_value: str
    transaction: TransactionOut
    item_status: ItemStatusOut
    is_redeemable: Flag


class RedeemableCoupons(ResponseModel):
    redeemable: RedeemableCouponOut


class IsRedeemableResponse(ResponseModel):
    status: CapillaryStatus
    coupons: RedeemableCoupons


class IsRedeemableOut(ResponseModel):
    """Whether the coupon would be redeemed, with the item status a redeem would get"""

    response: IsRedeemableResponse


class CouponSeriesOut(ResponseModel):
    """The series or promotion of the code (times in Unix seconds)."""

    group: str
    seriesCode: str
    discountCode: str
    description: str
    discountType: Literal["ABS", "PERC"] | None
    discountValue: float | None
    discountUpto: float | None
    validFrom: int | None
    validTill: int | None


class UnknownSeries(ResponseModel):
    """No series or promotion: the code is unknown."""


class RedeemabilityOut(ResponseModel):
    code: str
    isRedeemable: bool
    errorCode: int
    errorMessage: str
    couponValue: str
    couponseries: CouponSeriesOut | UnknownSeries


class IsRedeemableV2Out(ResponseModel):
    """One answer per code: errorCode is the item status a redeem would get (700: yes)"""

    redemption: list[RedeemabilityOut]
    warnings: list[str]


class ReversalDetail(ResponseModel):
    redemptionId: str
    code: str
    customerId: str
    reversed: bool
    reversedAt: str | None
    reason: str | None


class ReversalOut(ResponseModel):
    """The reversal (a second one answers the same)"""

    reversal: ReversalDetail
    warnings: list[str]


class Drift(ResponseModel):
    drift: int


class ReconcileOut(ResponseModel):
    """The drift repaired"""

    reconcile: Drift
    warnings: list[str]


class ActivationOut(ResponseModel):
    """The subscription granted (as the CRM seed; times in RFC 3339)"""

    coupon_id: int
    coupon_type: str
    subscription_id: int
    subscription_type_id: int
    subscription_type_name: str
    subscription_start_time: str
    subscription_end_time: str


class SubscriptionOut(ResponseModel):
    id: int
    subscription_type_id: int
    subscription_type_name: str
    start_time: str
    end_time: str


class SubscriptionsOut(ResponseModel):
    """The calling user's subscriptions"""

    status: Literal["ok"]
    subscriptions: list[SubscriptionOut]


class RedemptionItem(ResponseModel):
    """A redemption as the ledger records it (amounts as decimal text, times ISO 8601)."""

    id: str
    code: str
    group: str = Field(description="The limit group: S:<seriesId> or P:<promotionCode>.")
    promotionCode: str | None
    seriesId: int | None
    customerId: str = Field(description="The platform customer the redeem resolved.")
    transactionNumber: str | None
    amount: str = Field(description="The transaction amount.")
    couponValue: str = Field(description="The discount granted.")
    redeemedAt: str
    reversed: bool
    reversedAt: str | None
    reversalReason: str | None


class CustomFieldOut(ResponseModel):
    name: str
    value: str


class RedemptionDetail(RedemptionItem):
    customFields: list[CustomFieldOut]


class SearchPage(ResponseModel):
    page: int
    limit: int
    hasMore: bool = Field(description="Whether a next page has items.")


class RedemptionsOut(ResponseModel):
    """The redemptions found, newest first"""

    redemptions: list[RedemptionItem]
    pagination: SearchPage
    warnings: list[str]


class RedemptionOut(ResponseModel):
    """One redemption, with its reversal"""

    redemption: RedemptionDetail
    warnings: list[str]


class OutcomeOut(ResponseModel):
    status: int = Field(description="The item status redeem answered (700 success, 7xx).")
    success: bool = Field(description="Whether the item was redeemed.")
    message: str
    count: int


class HourOut(ResponseModel):
    hour: str = Field(description="The hour's start (UTC).")
    redemptions: int
    reversals: int


class DayOut(ResponseModel):
    day: str = Field(description="The UTC day (YYYY-MM-DD).")
    redemptions: int
    reversals: int
    outcomes: list[OutcomeOut]


class TopPromotionOut(ResponseModel):
    promotionCode: str
    redemptions: int


class TopSeriesOut(ResponseModel):
    seriesId: int
    redemptions: int


class RedemptionStatsOut(ResponseModel):
    """Per UTC hour and day, oldest first and zero-filled; outcomes and tops over the days"""

    hours: int
    days: int
    hourly: list[HourOut]
    daily: list[DayOut]
    outcomes: list[OutcomeOut]
    topPromotions: list[TopPromotionOut]
    topSeries: list[TopSeriesOut]
    warnings: list[str]


class GrantedSubscriptionOut(ResponseModel):
    id: int
    user_id: str
    email: str | None = Field(description="The user's email at activation (null before kept).")
    coupon_code: str
    coupon_type: str = Field(description="The promotion code of the coupon.")
    subscription_type_id: int
    subscription_type_name: str
    start_time: str
    end_time: str
    activated_at: str


class SubscriptionsPage(ResponseModel):
    """As the gateway's CRM listings page."""

    page: int
    limit: int
    total: int = Field(description="Subscriptions the filters keep, on every page.")
    pages: int


class GrantedSubscriptionsOut(ResponseModel):
    """Subscriptions granted by activations, the latest first"""

    status: Literal["ok"]
    subscriptions: list[GrantedSubscriptionOut]
    pagination: SubscriptionsPage
