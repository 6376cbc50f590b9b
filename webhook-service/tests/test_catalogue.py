"""The catalogue of webhook event types, and how the platform's internal events map to them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from coupon_core.events import Event
from webhook_service.api.event_models import DATA_MODELS
from webhook_service.domain.catalogue import (
    BY_TYPE,
    CATALOGUE,
    SUBSCRIBABLE,
    example_body,
    subscription,
    to_webhook,
    webhook_disabled_data,
    webhook_test_data,
)

WHEN = "2026-12-06T10:15:00.123456+00:00"


def _event(event_type: str, payload: dict[str, Any], service: str = "redemption") -> Event:
    return Event(id=f"{service}:7", type=event_type, payload=payload, occurred_at=WHEN)


def _redeemed(group: str, **extra: Any) -> Event:
    return _event(
        "coupon.redeemed",
        {
            "redemptionId": "1042",
            "code": "SUMMER-1",
            "group": group,
            "customerId": "3301",
            "amount": 5000.0,
            "couponValue": 500.0,
            "redeemedAt": WHEN,
            **extra,
        },
    )


def test_the_subscribable_types_are_the_seven_of_the_issue() -> None:
    assert set(SUBSCRIBABLE) == {
        "coupon.redeemed",
        "redemption.reversed",
        "coupon.issued",
        "coupon.activated",
        "generation.completed",
        "limit.reached",
        "webhook.disabled",
    }
    assert "webhook.test" in BY_TYPE
    assert not BY_TYPE["webhook.test"].subscribable
    assert all(entry.description for entry in CATALOGUE)


def test_a_redemption_of_a_promotion_coupon_names_the_promotion() -> None:
    mapped = to_webhook(_redeemed("P:SUMMER", transactionNumber="bill-8812"))
    assert mapped == (
        "coupon.redeemed",
        {
            "redemptionId": "1042",
            "code": "SUMMER-1",
            "seriesId": None,
            "promotionCode": "SUMMER",
            "customerId": "3301",
            "amount": 5000.0,
            "couponValue": 500.0,
            "transactionNumber": "bill-8812",
            "redeemedAt": WHEN,
        },
    )


def test_a_redemption_of_a_series_coupon_names_the_series_as_a_number() -> None:
    mapped = to_webhook(_redeemed("S:12", transactionNumber=None))
    assert mapped is not None
    _, data = mapped
    assert (data["seriesId"], data["promotionCode"]) == (12, None)


def test_a_redemption_recorded_before_transaction_numbers_has_none() -> None:
    mapped = to_webhook(_redeemed("S:12"))
    assert mapped is not None
    assert mapped[1]["transactionNumber"] is None


def test_a_reversal_is_delivered_as_redemption_reversed() -> None:
    payload = {
        "redemptionId": "1042",
        "code": "X-1",
        "group": "S:3",
        "customerId": "9",
        "reversedAt": WHEN,
    }
    assert to_webhook(_event("coupon.redemption_reversed", payload)) == (
        "redemption.reversed",
        {
            "redemptionId": "1042",
            "code": "X-1",
            "seriesId": 3,
            "promotionCode": None,
            "customerId": "9",
            "reversedAt": WHEN,
        },
    )


def test_an_issue_carries_the_coupon_and_its_series() -> None:
    payload = {
        "code": "W-1",
        "group": "S:12",
        "couponId": 5519,
        "customerId": "3301",
        "issuedAt": WHEN,
    }
    assert to_webhook(_event("coupon.issued", payload, "issuance")) == (
        "coupon.issued",
        {"couponId": 5519, "code": "W-1", "seriesId": 12, "customerId": "3301", "issuedAt": WHEN},
    )


def _activation(notify: bool) -> Event:
    return _event(
        "coupon.activated",
        {
            "activationId": "77",
            "code": "PREMIUM-1",
            "group": "P:PREMIUM",
            "userId": "4120",
            "subscriptionId": "981",
            "notifyUser": notify,
            "activatedAt": WHEN,
        },
    )


def test_an_activation_that_asks_to_notify_the_user_carries_the_notification() -> None:
    mapped = to_webhook(_activation(notify=True))
    assert mapped is not None
    kind, data = mapped
    assert kind == "coupon.activated"
    assert data["notifyUser"] is True
    assert (data["seriesId"], data["promotionCode"]) == (None, "PREMIUM")
    assert data["notification"] == {
        "userId": "4120",
        "reason": "coupon.activated",
        "code": "PREMIUM-1",
        "subscriptionId": "981",
    }


def test_an_activation_without_notify_user_carries_no_notification() -> None:
    mapped = to_webhook(_activation(notify=False))
    assert mapped is not None
    assert mapped[1]["notifyUser"] is False
    assert "notification" not in mapped[1]


def test_a_finished_generation_is_delivered_as_is() -> None:
    payload = {
        "jobId": "42",
        "promotionCode": "SUMMER",
        "requested": 100,
        "generated": 98,
        "status": "failed",
        "completedAt": WHEN,
    }
    assert to_webhook(_event("generation.completed", payload, "promotion")) == (
        "generation.completed",
        payload,
    )


def test_a_coupon_limit_reached_names_the_coupon_and_its_group() -> None:
    payload = {
        "scope": "coupon",
        "group": "S:12",
        "code": "W-1",
        "counter": "redemptions",
        "limit": 1,
        "used": 1,
        "reachedAt": WHEN,
    }
    assert to_webhook(_event("limit.reached", payload)) == (
        "limit.reached",
        {
            "scope": "coupon",
            "code": "W-1",
            "seriesId": 12,
            "promotionCode": None,
            "counter": "redemptions",
            "limit": 1,
            "used": 1,
            "reachedAt": WHEN,
        },
    )


@pytest.mark.parametrize(
    "internal", ["coupon.created", "promotion.updated", "series.updated", "something.new"]
)
def test_internal_only_events_are_not_delivered(internal: str) -> None:
    assert to_webhook(_event(internal, {"group": "P:X", "code": "A"})) is None


def test_the_examples_have_the_fields_the_mapping_makes() -> None:
    samples = {
        "coupon.redeemed": _redeemed("P:SUMMER", transactionNumber="b"),
        "coupon.activated": _activation(notify=True),
        "redemption.reversed": _event("coupon.redemption_reversed", {"group": "S:1"}),
        "coupon.issued": _event("coupon.issued", {"group": "S:1"}),
        "generation.completed": _event("generation.completed", {}),
        "limit.reached": _event("limit.reached", {"group": "S:1"}),
    }
    for kind, event in samples.items():
        mapped = to_webhook(event)
        assert mapped is not None
        assert mapped[0] == kind
        assert list(mapped[1]) == list(BY_TYPE[kind].example), kind


def test_the_service_made_events_have_the_fields_of_their_examples() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    disabled = webhook_disabled_data(
        webhook_id=3, url="https://x.example/h", reason="r", failing_since=now, disabled_at=now
    )
    assert list(disabled) == list(BY_TYPE["webhook.disabled"].example)
    assert disabled["failingSince"] == "2026-12-06T00:00:00+00:00"
    assert list(webhook_test_data(webhook_id=3)) == list(BY_TYPE["webhook.test"].example)


def test_an_example_body_is_the_example_data_in_its_envelope() -> None:
    body = example_body(BY_TYPE["coupon.issued"])
    assert body["type"] == "coupon.issued"
    assert body["id"].startswith("evt_")
    assert body["timestamp"].endswith("Z")
    assert body["data"] == dict(BY_TYPE["coupon.issued"].example)


def test_every_example_and_every_mapping_fits_the_documented_schema() -> None:
    assert set(DATA_MODELS) == set(BY_TYPE)
    for entry in CATALOGUE:
        DATA_MODELS[entry.type].model_validate(entry.example)
    for event in (_redeemed("S:1", transactionNumber=None), _activation(notify=False)):
        mapped = to_webhook(event)
        assert mapped is not None
        DATA_MODELS[mapped[0]].model_validate(mapped[1])


def test_a_subscription_names_known_types_once_or_the_star_alone() -> None:
    assert subscription(["*"]) == ["*"]
    assert subscription(["limit.reached", "coupon.issued", "limit.reached"]) == [
        "limit.reached",
        "coupon.issued",
    ]
    with pytest.raises(ValueError, match=r"'coupon\.nope'"):
        subscription(["coupon.issued", "coupon.nope"])
    with pytest.raises(ValueError, match=r"webhook\.test"):
        subscription(["webhook.test"])
    with pytest.raises(ValueError, match="alone"):
        subscription(["*", "coupon.issued"])
