"""The pure rules: what a coupon is worth and which check fails first (no server needed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from coupon_core.facts import CouponFacts, Discount, GroupFacts
from redemption_service.domain import rules
from redemption_service.domain.status import ItemStatus


@pytest.mark.parametrize(
    ("discount", "amount", "expected"),
    [
        (Discount(type="ABS", value=100), "5000", "100.00"),
        (Discount(type="ABS", value=46389), "5000", "5000.00"),
        (Discount(type="PERC", value=10), "2500.5", "250.05"),
        (Discount(type="PERC", value=10, upto=300), "10000", "300.00"),
        (Discount(type="PERC", value=12.5, upto=0), "99.99", "12.50"),
        (None, "5000", "0.00"),
    ],
)
def test_coupon_value(discount: Discount | None, amount: str, expected: str) -> None:
    assert rules.coupon_value(discount, Decimal(amount)) == Decimal(expected)


def test_wire_formats() -> None:
    assert rules.plain(Decimal("46389.00")) == "46389"
    assert rules.plain(Decimal("250.05")) == "250.05"
    assert rules.plain(Decimal("12.50")) == "12.5"
    assert rules.money(Decimal("5000")) == "5000.00"


def test_first_failing_check_wins() -> None:
    group = GroupFacts(group="S:1", ends_at=10, any_user=False, min_amount=50)
    coupon = CouponFacts(code="X", group="S:1", coupon_id=1, expires_at=5, customer_id="a")
    common: dict[str, Any] = {"customer_id": "b", "amount": Decimal(1), "transaction_number": ""}
    assert rules.check(group=group, coupon=coupon, now=20, **common) is ItemStatus.GROUP_NOT_ACTIVE
    assert rules.check(group=group, coupon=coupon, now=8, **common) is ItemStatus.COUPON_EXPIRED
    assert rules.check(group=group, coupon=coupon, now=1, **common) is ItemStatus.NOT_FOR_CUSTOMER
    ok: dict[str, Any] = {"customer_id": "a", "amount": Decimal(50), "transaction_number": ""}
    assert rules.check(group=group, coupon=coupon, now=1, **ok) is ItemStatus.OK
