"""The bodies the redemption-service answers with (Capillary v1.1 and v2, seed 003; CRM,
seed 000), as models: the views build them, the API document describes them."""

from __future__ import annotations

from typing import Any, Literal

from coupon_core.families import CapillaryStatus
from coupon_core.responses import Omitted, ResponseModel

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
