"""The bodies endpoints receive, one model per event type: the OpenAPI document describes
each (components ``<Type>Event`` and ``<Type>Data``), and the tests hold the catalogue's
examples and the mapping's output (domain.catalogue) to them."""

from __future__ import annotations

from typing import Annotated, Literal

from coupon_core.responses import Omitted, ResponseModel
from pydantic import Field

from webhook_service.domain import catalogue


class CouponRedeemedData(ResponseModel):
    redemptionId: str
    code: str
    seriesId: int | None
    promotionCode: str | None
    customerId: str
    amount: float
    couponValue: float
    transactionNumber: str | None
    redeemedAt: str


class RedemptionReversedData(ResponseModel):
    redemptionId: str
    code: str
    seriesId: int | None
    promotionCode: str | None
    customerId: str
    reversedAt: str


class CouponIssuedData(ResponseModel):
    couponId: int
    code: str
    seriesId: int | None
    customerId: str
    issuedAt: str


class NotificationData(ResponseModel):
    """The request to tell the user about the activation (notifyUser)"""

    userId: str
    reason: Literal["coupon.activated"]
    code: str
    subscriptionId: str


class CouponActivatedData(ResponseModel):
    activationId: str
    code: str
    seriesId: int | None
    promotionCode: str | None
    userId: str
    subscriptionId: str
    notifyUser: bool
    activatedAt: str
    notification: Omitted[NotificationData] = None


class GenerationCompletedData(ResponseModel):
    jobId: str
    promotionCode: str
    requested: int
    generated: int
    status: str
    completedAt: str


class LimitReachedData(ResponseModel):
    scope: Literal["coupon", "promotion", "series"]
    code: str | None
    seriesId: int | None
    promotionCode: str | None
    counter: Literal["redemptions", "issues"]
    limit: int
    used: int
    reachedAt: str


class WebhookDisabledData(ResponseModel):
    webhookId: int
    url: str
    reason: str
    failingSince: str | None
    disabledAt: str


class WebhookTestData(ResponseModel):
    webhookId: int
    message: str


class _Envelope(ResponseModel):
    id: str = Field(description="evt_...: the same on every retry and redelivery")
    timestamp: str = Field(description="When it happened (ISO 8601, UTC)")


class CouponRedeemedEvent(_Envelope):
    """coupon.redeemed"""

    type: Literal["coupon.redeemed"]
    data: CouponRedeemedData


class RedemptionReversedEvent(_Envelope):
    """redemption.reversed"""

    type: Literal["redemption.reversed"]
    data: RedemptionReversedData


class CouponIssuedEvent(_Envelope):
    """coupon.issued"""

    type: Literal["coupon.issued"]
    data: CouponIssuedData


class CouponActivatedEvent(_Envelope):
    """coupon.activated"""

    type: Literal["coupon.activated"]
    data: CouponActivatedData


class GenerationCompletedEvent(_Envelope):
    """generation.completed"""

    type: Literal["generation.completed"]
    data: GenerationCompletedData


class LimitReachedEvent(_Envelope):
    """limit.reached"""

    type: Literal["limit.reached"]
    data: LimitReachedData


class WebhookDisabledEvent(_Envelope):
    """webhook.disabled"""

    type: Literal["webhook.disabled"]
    data: WebhookDisabledData


class WebhookTestEvent(_Envelope):
    """webhook.test"""

    type: Literal["webhook.test"]
    data: WebhookTestData


AnyEvent = Annotated[
    CouponRedeemedEvent
    | RedemptionReversedEvent
    | CouponIssuedEvent
    | CouponActivatedEvent
    | GenerationCompletedEvent
    | LimitReachedEvent
    | WebhookDisabledEvent
    | WebhookTestEvent,
    Field(discriminator="type"),
]

DATA_MODELS: dict[str, type[ResponseModel]] = {
    catalogue.COUPON_REDEEMED: CouponRedeemedData,
    catalogue.REDEMPTION_REVERSED: RedemptionReversedData,
    catalogue.COUPON_ISSUED: CouponIssuedData,
    catalogue.COUPON_ACTIVATED: CouponActivatedData,
    catalogue.GENERATION_COMPLETED: GenerationCompletedData,
    catalogue.LIMIT_REACHED: LimitReachedData,
    catalogue.WEBHOOK_DISABLED: WebhookDisabledData,
    catalogue.WEBHOOK_TEST: WebhookTestData,
}
