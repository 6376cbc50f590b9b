"""The plain values a redemption works with (no I/O, no framework)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from coupon_core import redis_keys
from coupon_core.facts import CouponFacts, GroupFacts
from coupon_core.redis_keys import CustomerIdentifier

from redemption_service.domain.status import ItemStatus


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """How the request named the customer: the first identifier given."""

    identifier: CustomerIdentifier | None
    value: str | None
    given: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RedeemItem:
    code: str
    customer: CustomerRef
    amount: Decimal
    transaction_number: str = ""
    validation_code: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Judged:
    """One item after the checks; ``status`` OK means it may take its counters."""

    item: RedeemItem
    status: ItemStatus
    customer_id: str | None = None
    customer_summary: dict[str, Any] | None = None
    group: GroupFacts | None = None
    coupon: CouponFacts | None = None
    value: Decimal = Decimal(0)
    redemption_id: int | None = None
    taken: bool = False
    reached: int = 0  # the counters its use made reach their limit (db.counters.REACHED_*)


@dataclass(frozen=True, slots=True)
class Redemption:
    """One row of the ledger."""

    id: int
    code: str
    group_ref: str
    customer_id: str
    amount: Decimal
    coupon_value: Decimal
    transaction_number: str  # "" when the request named none
    custom_fields: list[dict[str, str]]
    redeemed_at: Any
    reversed_at: Any
    reversal_reason: str | None


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What a ledger search asks for: every filter given must hold (None: not given)."""

    redemption_id: int | None = None
    code: str | None = None
    customer_id: str | None = None
    transaction_number: str | None = None
    group: str | None = None  # "S:<seriesId>" or "P:<promotionCode>"
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def group_parts(group: str) -> tuple[str | None, int | None]:
    """The promotion code or the series id a limit group (``P:<code>``, ``S:<id>``) names."""
    kind, _, ref = group.partition(":")
    if kind == redis_keys.PROMOTION:
        return ref, None
    if kind == redis_keys.SERIES and ref.isascii() and ref.isdigit():
        return None, int(ref)
    return None, None
