"""What a redemption checks before it touches a counter, and what a coupon is worth."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from coupon_core.facts import CouponFacts, Discount, GroupFacts

from redemption_service.domain.status import ItemStatus

CENT = Decimal("0.01")


def check(
    *,
    group: GroupFacts,
    coupon: CouponFacts,
    customer_id: str,
    amount: Decimal,
    transaction_number: str,
    now: int,
) -> ItemStatus:
    """The first rule ``coupon`` breaks for this customer and transaction, or OK. Usage
    limits are not judged here: the guard script checks and takes them atomically."""
    if (group.starts_at is not None and now < group.starts_at) or (
        group.ends_at is not None and now > group.ends_at
    ):
        return ItemStatus.GROUP_NOT_ACTIVE
    if coupon.expires_at is not None and now > coupon.expires_at:
        return ItemStatus.COUPON_EXPIRED
    if not group.any_user:
        if coupon.customer_id is None:
            return ItemStatus.NOT_ISSUED_TO_CUSTOMER
        if coupon.customer_id != customer_id:
            return ItemStatus.NOT_FOR_CUSTOMER
    if group.require_transaction_number and not transaction_number:
        return ItemStatus.TRANSACTION_NUMBER_REQUIRED
    if group.min_amount is not None and amount < Decimal(str(group.min_amount)):
        return ItemStatus.MIN_AMOUNT_NOT_MET
    return ItemStatus.OK


def coupon_value(discount: Discount | None, amount: Decimal) -> Decimal:
    """ABS: the value, never above the amount; PERC: amount x value / 100, capped by upto."""
    if discount is None:
        return Decimal(0)
    value = Decimal(str(discount.value))
    if discount.type == "ABS":
        granted = min(value, amount)
    else:
        granted = amount * value / 100
        upto = Decimal(str(discount.upto))
        if upto > 0:
            granted = min(granted, upto)
    return max(granted, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


def plain(value: Decimal) -> str:
    """``46389`` or ``12.5``: a decimal without trailing zeros or exponent."""
    text = format(value.quantize(CENT), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal) -> str:
    """``5000.00``."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")
