"""The webhook event types: what each says, an example of its ``data``, and how an event of
the platform's streams becomes one (docs/webhooks.md, "Event types").

The services record internal events (coupon_core.events); the webhook service delivers a
subset of them under public names, with the limit group spelled out (``S:12`` becomes
``seriesId: 12``, ``P:SUMMER`` becomes ``promotionCode: "SUMMER"``). Internal types that
no endpoint can subscribe to (``coupon.created``, ``promotion.updated``, ``series.updated``)
map to nothing. ``webhook.disabled`` and ``webhook.test`` are made by the webhook service
itself (:func:`webhook_disabled_data`, :func:`webhook_test_data`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coupon_core.events import Event

ALL = "*"  # an endpoint's ``events: ["*"]``: every subscribable type, present and future

COUPON_REDEEMED = "coupon.redeemed"
REDEMPTION_REVERSED = "redemption.reversed"
COUPON_ISSUED = "coupon.issued"
COUPON_ACTIVATED = "coupon.activated"
GENERATION_COMPLETED = "generation.completed"
LIMIT_REACHED = "limit.reached"
WEBHOOK_DISABLED = "webhook.disabled"
WEBHOOK_TEST = "webhook.test"

TEST_MESSAGE = "A test event, sent on request; it needs no action."


@dataclass(frozen=True, slots=True)
class EventType:
    type: str
    description: str
    example: Mapping[str, Any]  # an example of the event's ``data``
    example_id: str  # and of its id: evt_<service>_<outbox id>, or evt_webhook_<uuid hex>
    # webhook.test is sent only by the test endpoint, to that endpoint: nobody subscribes.
    subscribable: bool = True


CATALOGUE: tuple[EventType, ...] = (
    EventType(
        COUPON_REDEEMED,
        "A coupon was redeemed: one event per coupon, also for each coupon of a request "
        "that redeems several. Exactly one of seriesId and promotionCode is set.",
        {
            "redemptionId": "1042",
            "code": "SUMMER-7Q2K9",
            "seriesId": None,
            "promotionCode": "SUMMER",
            "customerId": "3301",
            "amount": 5000,
            "couponValue": 500,
            "transactionNumber": "bill-8812",
            "redeemedAt": "2026-12-06T10:15:00.123456+00:00",
        },
        "evt_redemption_1042",
    ),
    EventType(
        REDEMPTION_REVERSED,
        "A redemption was reversed: the coupon use it took is given back.",
        {
            "redemptionId": "1042",
            "code": "SUMMER-7Q2K9",
            "seriesId": None,
            "promotionCode": "SUMMER",
            "customerId": "3301",
            "reversedAt": "2026-12-06T11:00:00.654321+00:00",
        },
        "evt_redemption_1043",
    ),
    EventType(
        COUPON_ISSUED,
        "A coupon of a series was issued to a customer: one event per coupon.",
        {
            "couponId": 5519,
            "code": "WELCOME-4HJ2",
            "seriesId": 12,
            "customerId": "3301",
            "issuedAt": "2026-12-06T09:00:00.000001+00:00",
        },
        "evt_issuance_88",
    ),
    EventType(
        COUPON_ACTIVATED,
        "A user activated a coupon, starting a subscription. When notifyUser is true, "
        "notification asks the receiver to tell the user; otherwise it is absent.",
        {
            "activationId": "77",
            "code": "PREMIUM-30D-X1",
            "seriesId": None,
            "promotionCode": "PREMIUM-30D",
            "userId": "4120",
            "subscriptionId": "981",
            "notifyUser": True,
            "activatedAt": "2026-12-06T12:30:00.5+00:00",
            "notification": {
                "userId": "4120",
                "reason": "coupon.activated",
                "code": "PREMIUM-30D-X1",
                "subscriptionId": "981",
            },
        },
        "evt_redemption_1077",
    ),
    EventType(
        GENERATION_COMPLETED,
        "A coupon generation job of a promotion finished; status is its final state (done "
        "or failed), as GET .../coupons/generate/{jobId} shows it.",
        {
            "jobId": "42",
            "promotionCode": "SUMMER",
            "requested": 10000,
            "generated": 10000,
            "status": "done",
            "completedAt": "2026-12-06T08:00:04.2+00:00",
        },
        "evt_promotion_310",
    ),
    EventType(
        LIMIT_REACHED,
        "A coupon, series or promotion just used up a total limit (the use that made the "
        "counter reach it): sent once per reaching. code is set for scope coupon only.",
        {
            "scope": "promotion",
            "code": None,
            "seriesId": None,
            "promotionCode": "SUMMER",
            "counter": "redemptions",
            "limit": 10000,
            "used": 10000,
            "reachedAt": "2026-12-06T18:42:10.25+00:00",
        },
        "evt_redemption_1098",
    ),
    EventType(
        WEBHOOK_DISABLED,
        "A webhook endpoint failed every attempt for too long and was disabled; sent to the "
        "other endpoints that subscribe to it.",
        {
            "webhookId": 3,
            "url": "https://crm.example.com/hooks/coupons",
            "reason": "every delivery attempt failed for 120 hours",
            "failingSince": "2026-12-01T00:00:00+00:00",
            "disabledAt": "2026-12-06T00:00:01+00:00",
        },
        "evt_webhook_5b0c1f6e2d7a4c39a8e1f0b2c3d4e5f6",
    ),
    EventType(
        WEBHOOK_TEST,
        "A test event, sent only by POST /api/v1/webhooks/{id}/test to that endpoint.",
        {"webhookId": 3, "message": TEST_MESSAGE},
        "evt_webhook_9e8d7c6b5a4f43e2b1c0d9e8f7a6b5c4",
        subscribable=False,
    ),
)

BY_TYPE: Mapping[str, EventType] = {entry.type: entry for entry in CATALOGUE}
SUBSCRIBABLE: tuple[str, ...] = tuple(entry.type for entry in CATALOGUE if entry.subscribable)

# An example delivered body's time (docs, the API's event-types, the OpenAPI document).
EXAMPLE_TIMESTAMP = "2026-12-06T10:15:00.123456Z"


def subscription(events: Sequence[str]) -> list[str]:
    """The event types an endpoint subscribes to, each once: ``["*"]`` alone, or types of
    the catalogue that can be subscribed to. ValueError names what is not one."""
    unknown = [kind for kind in events if kind != ALL and kind not in SUBSCRIBABLE]
    if unknown:
        raise ValueError(
            f"unknown event type {', '.join(map(repr, unknown))}; the types are "
            f"{', '.join(SUBSCRIBABLE)}, or {ALL!r} for all"
        )
    if ALL in events and len(set(events)) > 1:
        raise ValueError(f"{ALL!r} already means every type: give it alone")
    return list(dict.fromkeys(events))


def example_body(event_type: EventType) -> dict[str, Any]:
    """What an endpoint receives for an event of this type (the example data in its
    envelope)."""
    return {
        "id": event_type.example_id,
        "type": event_type.type,
        "timestamp": EXAMPLE_TIMESTAMP,
        "data": dict(event_type.example),
    }


def _group(group: Any) -> tuple[int | None, str | None]:
    """``(seriesId, promotionCode)`` of a limit group ref: ``S:12`` or ``P:SUMMER``."""
    kind, _, ref = str(group or "").partition(":")
    if kind == "S" and ref.isascii() and ref.isdigit():
        return int(ref), None
    if kind == "P" and ref:
        return None, ref
    return None, None


def _redeemed(payload: Mapping[str, Any]) -> dict[str, Any]:
    series_id, promotion_code = _group(payload.get("group"))
    return {
        "redemptionId": payload.get("redemptionId"),
        "code": payload.get("code"),
        "seriesId": series_id,
        "promotionCode": promotion_code,
        "customerId": payload.get("customerId"),
        "amount": payload.get("amount"),
        "couponValue": payload.get("couponValue"),
        # Absent from events recorded before redemptions carried it.
        "transactionNumber": payload.get("transactionNumber"),
        "redeemedAt": payload.get("redeemedAt"),
    }


def _reversed(payload: Mapping[str, Any]) -> dict[str, Any]:
    series_id, promotion_code = _group(payload.get("group"))
    return {
        "redemptionId": payload.get("redemptionId"),
        "code": payload.get("code"),
        "seriesId": series_id,
        "promotionCode": promotion_code,
        "customerId": payload.get("customerId"),
        "reversedAt": payload.get("reversedAt"),
    }


def _issued(payload: Mapping[str, Any]) -> dict[str, Any]:
    series_id, _ = _group(payload.get("group"))
    return {
        "couponId": payload.get("couponId"),
        "code": payload.get("code"),
        "seriesId": series_id,
        "customerId": payload.get("customerId"),
        "issuedAt": payload.get("issuedAt"),
    }


def _activated(payload: Mapping[str, Any]) -> dict[str, Any]:
    series_id, promotion_code = _group(payload.get("group"))
    notify = payload.get("notifyUser") is True
    data: dict[str, Any] = {
        "activationId": payload.get("activationId"),
        "code": payload.get("code"),
        "seriesId": series_id,
        "promotionCode": promotion_code,
        "userId": payload.get("userId"),
        "subscriptionId": payload.get("subscriptionId"),
        "notifyUser": notify,
        "activatedAt": payload.get("activatedAt"),
    }
    if notify:
        # The activation asked for the user to be told (seed 000's notifyUser).
        data["notification"] = {
            "userId": data["userId"],
            "reason": COUPON_ACTIVATED,
            "code": data["code"],
            "subscriptionId": data["subscriptionId"],
        }
    return data


def _generation(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "jobId": payload.get("jobId"),
        "promotionCode": payload.get("promotionCode"),
        "requested": payload.get("requested"),
        "generated": payload.get("generated"),
        "status": payload.get("status"),
        "completedAt": payload.get("completedAt"),
    }


def _limit(payload: Mapping[str, Any]) -> dict[str, Any]:
    series_id, promotion_code = _group(payload.get("group"))
    return {
        "scope": payload.get("scope"),
        "code": payload.get("code"),
        "seriesId": series_id,
        "promotionCode": promotion_code,
        "counter": payload.get("counter"),
        "limit": payload.get("limit"),
        "used": payload.get("used"),
        "reachedAt": payload.get("reachedAt"),
    }


# internal event type -> (webhook type, how its payload becomes the webhook's data)
_MAPPINGS: Mapping[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "coupon.redeemed": (COUPON_REDEEMED, _redeemed),
    "coupon.redemption_reversed": (REDEMPTION_REVERSED, _reversed),
    "coupon.issued": (COUPON_ISSUED, _issued),
    "coupon.activated": (COUPON_ACTIVATED, _activated),
    "generation.completed": (GENERATION_COMPLETED, _generation),
    "limit.reached": (LIMIT_REACHED, _limit),
}


def to_webhook(event: Event) -> tuple[str, dict[str, Any]] | None:
    """The webhook type and ``data`` of an internal event; None for a type not delivered."""
    mapping = _MAPPINGS.get(event.type)
    if mapping is None:
        return None
    webhook_type, build = mapping
    return webhook_type, build(event.payload)


def webhook_test_data(*, webhook_id: int) -> dict[str, Any]:
    """The ``data`` of a ``webhook.test`` event to endpoint ``webhook_id``."""
    return {"webhookId": webhook_id, "message": TEST_MESSAGE}


def webhook_disabled_data(
    *,
    webhook_id: int,
    url: str,
    reason: str,
    failing_since: datetime | None,
    disabled_at: datetime,
) -> dict[str, Any]:
    """The ``data`` of a ``webhook.disabled`` event about endpoint ``webhook_id``."""
    return {
        "webhookId": webhook_id,
        "url": url,
        "reason": reason,
        "failingSince": failing_since.isoformat() if failing_since is not None else None,
        "disabledAt": disabled_at.isoformat(),
    }
