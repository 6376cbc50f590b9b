"""Judging redemption items against the facts the owning services published.

Two Redis reads whatever the number of coupons: code owners, customers and the facts-ready
markers in one ``MGET``, then every group's and coupon's facts in another (on a cluster, one
per slot). Concurrent redeems' reads share round trips (coupon_core.autopipeline).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from coupon_core import customers, keyspace
from coupon_core.autopipeline import AutoPipeline
from coupon_core.errors import ServiceUnavailable
from coupon_core.facts import CouponFacts, GroupFacts

from redemption_service.domain import rules
from redemption_service.domain.models import CustomerRef, Judged, RedeemItem
from redemption_service.domain.status import ItemStatus

OWNERS = ("promotion", "issuance")


class FactsUnavailable(ServiceUnavailable):
    """Redis lost the facts the owners publish; answering 719 now could be false."""

    code = "facts_unavailable"

    def __init__(self) -> None:
        super().__init__("Coupon data is being republished after a cache loss; retry shortly.")


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


def _customer_id(raw: str | None) -> str | None:
    """The id index may hold a JSON summary of the customer instead of the bare id."""
    if raw is None or not raw.startswith("{"):
        return raw
    try:
        found = orjson.loads(raw).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return None if found is None else str(found)


def _index_key(ref: CustomerRef) -> str | None:
    if ref.identifier is None:
        return None
    value = customers.normalise(ref.identifier, ref.value)
    return None if value is None else keyspace.customer_index(ref.identifier, value)


async def judge(reads: AutoPipeline, items: Sequence[RedeemItem], *, now: int) -> list[Judged]:
    """Every check except the usage limits (the guard script judges those atomically)."""
    index_keys = [_index_key(item.customer) for item in items]
    lookups = [keyspace.code_owner(item.code) for item in items]
    lookups += [key for key in index_keys if key is not None]
    lookups += [keyspace.facts_ready(service) for service in OWNERS]
    first = await reads.get_many(lookups)
    owners = [_text(v) for v in first[: len(items)]]
    found = iter(first[len(items) : len(first) - len(OWNERS)])
    customer_ids = [_customer_id(_text(next(found))) if k is not None else None for k in index_keys]
    facts_ready = all(v is not None for v in first[len(first) - len(OWNERS) :])

    groups = sorted({g for g in owners if g is not None})
    pairs = [(g, item.code) for g, item in zip(owners, items, strict=True) if g is not None]
    group_facts: dict[str, GroupFacts | None] = {}
    coupon_facts: dict[tuple[str, str], CouponFacts | None] = {}
    if pairs:
        keys = [keyspace.group_facts(g) for g in groups]
        keys += [keyspace.coupon_facts(g, code) for g, code in pairs]
        second = await reads.get_many(keys)
        for g, raw in zip(groups, second[: len(groups)], strict=True):
            group_facts[g] = GroupFacts.model_validate_json(raw) if raw else None
        for pair, raw in zip(pairs, second[len(groups) :], strict=True):
            coupon_facts[pair] = CouponFacts.model_validate_json(raw) if raw else None

    judged: list[Judged] = []
    seen: set[str] = set()
    for item, owner, customer_id in zip(items, owners, customer_ids, strict=True):
        entry = Judged(item=item, status=ItemStatus.OK, customer_id=customer_id)
        judged.append(entry)
        if item.code in seen:
            entry.status = ItemStatus.DUPLICATE_IN_REQUEST
            continue
        seen.add(item.code)
        if owner is None:
            if not facts_ready:
                raise FactsUnavailable()
            entry.status = ItemStatus.CODE_DOES_NOT_EXIST
            continue
        entry.group = group_facts.get(owner)
        entry.coupon = coupon_facts.get((owner, item.code))
        if entry.group is None or entry.coupon is None:
            if not facts_ready:
                raise FactsUnavailable()
            entry.status = ItemStatus.CODE_INVALID
            continue
        entry.value = rules.coupon_value(entry.group.discount, item.amount)
        if customer_id is None:
            entry.status = ItemStatus.CUSTOMER_NOT_FOUND
            continue
        entry.status = rules.check(
            group=entry.group,
            coupon=entry.coupon,
            customer_id=customer_id,
            amount=item.amount,
            transaction_number=item.transaction_number,
            now=now,
        )
    return judged
