"""The bodies the webhook API answers with, and the views that build them. An endpoint's
secret is in a body only where it is made: on create and on rotation."""

from __future__ import annotations

from coupon_core.dates import iso_or_none
from coupon_core.responses import ResponseModel
from pydantic import Field, TypeAdapter

from webhook_service.api.event_models import AnyEvent
from webhook_service.db.endpoints import Endpoint
from webhook_service.db.log import Attempt, Delivery
from webhook_service.domain import catalogue


class WebhookOut(ResponseModel):
    """The webhook endpoint"""

    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    createdAt: str
    updatedAt: str
    disabledAt: str | None
    disabledReason: str | None
    failingSince: str | None = Field(
        description="The first failed attempt since the last success; null while healthy."
    )
    previousSecretExpiresAt: str | None = Field(
        description="Until when the secret before the last rotation is valid too."
    )

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=endpoint.events,
            description=endpoint.description,
            enabled=endpoint.enabled,
            createdAt=endpoint.created_at.isoformat(),
            updatedAt=endpoint.updated_at.isoformat(),
            disabledAt=iso_or_none(endpoint.disabled_at),
            disabledReason=endpoint.disabled_reason,
            failingSince=iso_or_none(endpoint.failing_since),
            previousSecretExpiresAt=iso_or_none(endpoint.previous_secret_expires_at),
        )


class WebhookSecretOut(WebhookOut):
    """The webhook endpoint, with its signing secret (shown this once)"""

    secret: str = Field(description="whsec_...: the signing secret, shown this once.")

    @classmethod
    def with_secret(cls, endpoint: Endpoint) -> WebhookSecretOut:
        return cls(**WebhookOut.of(endpoint).model_dump(), secret=endpoint.secret)


class WebhookListOut(ResponseModel):
    """The webhook endpoints, by id (a page: after the one given)"""

    webhooks: list[WebhookOut]


class EventTypeOut(ResponseModel):
    type: str
    description: str
    subscribable: bool = Field(description="false for webhook.test, which only the test sends.")
    example: AnyEvent = Field(description="A body as an endpoint receives it.")


class EventTypesOut(ResponseModel):
    """The event types an endpoint can receive, each with an example body"""

    eventTypes: list[EventTypeOut]


_EVENT = TypeAdapter[AnyEvent](AnyEvent)


def event_types() -> EventTypesOut:
    return EventTypesOut(
        eventTypes=[
            EventTypeOut(
                type=entry.type,
                description=entry.description,
                subscribable=entry.subscribable,
                example=_EVENT.validate_python(catalogue.example_body(entry)),
            )
            for entry in catalogue.CATALOGUE
        ]
    )


class DeliveryOut(ResponseModel):
    id: int
    eventId: str
    eventType: str
    status: str = Field(description="pending, delivered or failed (given up)")
    attempts: int
    nextAttemptAt: str | None = Field(description="When it is tried next; null unless pending.")
    firstAttemptAt: str | None
    lastAttemptAt: str | None
    createdAt: str

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        pending = delivery.status == "pending"
        return cls(
            id=delivery.id,
            eventId=delivery.event_id,
            eventType=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            nextAttemptAt=delivery.next_attempt_at.isoformat() if pending else None,
            firstAttemptAt=iso_or_none(delivery.first_attempt_at),
            lastAttemptAt=iso_or_none(delivery.last_attempt_at),
            createdAt=delivery.created_at.isoformat(),
        )


class DeliveriesOut(ResponseModel):
    """The endpoint's deliveries, newest first (a page: before the id given)"""

    deliveries: list[DeliveryOut]


class AttemptOut(ResponseModel):
    id: int
    deliveryId: int
    eventId: str
    eventType: str | None = Field(description="null once the event is past retention")
    attemptedAt: str
    outcome: str = Field(description="delivered, http_error, timeout, refused or network_error")
    httpStatus: int | None
    latencyMs: float
    response: str = Field(description="The first bytes of the response body, as text.")
    error: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            id=attempt.id,
            deliveryId=attempt.delivery_id,
            eventId=attempt.event_id,
            eventType=attempt.event_type,
            attemptedAt=attempt.attempted_at.isoformat(),
            outcome=attempt.outcome,
            httpStatus=attempt.http_status,
            latencyMs=attempt.latency_ms,
            response=attempt.response_head,
            error=attempt.error,
        )


class AttemptsOut(ResponseModel):
    """The endpoint's attempt log, newest first (a page: before the id given)"""

    attempts: list[AttemptOut]


class SentTestOut(ResponseModel):
    """The webhook.test event queued for the endpoint"""

    eventId: str


class RedeliveryQueuedOut(ResponseModel):
    """How many deliveries were queued again"""

    queued: int
