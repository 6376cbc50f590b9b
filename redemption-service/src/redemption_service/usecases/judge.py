"""Judging redemption items against the facts the owning services published.

Two Redis reads whatever the number of coupons: code owners, customers and the facts-ready
markers in one ``MGET``, then every group's and coupon's facts in another (on a cluster, one
per slot). Concurrent redeems' reads share round trips (coupon_core.autopipeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import orjson
from coupon_core import customers, redis_keys
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
    return None if value is None else redis_keys.customer_index(ref.identifier, value)


class _Found(NamedTuple):
    """What the first read found: each item's code owner and customer id, in item order."""

    owners: list[str | None]
    customer_ids: list[str | None]
    facts_ready: bool


class _Facts(NamedTuple):
    """What the second read found: each owning group's facts and each owned coupon's."""

    groups: dict[str, GroupFacts | None]
    coupons: dict[tuple[str, str], CouponFacts | None]


async def _look_up(reads: AutoPipeline, items: Sequence[RedeemItem]) -> _Found:
    """One ``MGET``: every code's owner, every customer's id, the facts-ready markers."""
    index_keys = [_index_key(item.customer) for item in items]
    lookups = [redis_keys.code_owner(item.code) for item in items]
    lookups += [key for key in index_keys if key is not None]
    lookups += [redis_keys.facts_ready(service) for service in OWNERS]
    first = await reads.get_many(lookups)
    found = iter(first[len(items) : len(first) - len(OWNERS)])
    return _Found(
        owners=[_text(v) for v in first[: len(items)]],
        customer_ids=[
            _customer_id(_text(next(found))) if k is not None else None for k in index_keys
        ],
        facts_ready=all(v is not None for v in first[len(first) - len(OWNERS) :]),
    )


async def _read_facts(
    reads: AutoPipeline, items: Sequence[RedeemItem], owners: list[str | None]
) -> _Facts:
    """One ``MGET`` (none when no code has an owner): the facts of the owning groups and of
    their coupons."""
    facts = _Facts(groups={}, coupons={})
    pairs = [(g, item.code) for g, item in zip(owners, items, strict=True) if g is not None]
    if not pairs:
        return facts
    groups = sorted({g for g, _ in pairs})
    keys = [redis_keys.group_facts(g) for g in groups]
    keys += [redis_keys.coupon_facts(g, code) for g, code in pairs]
    second = await reads.get_many(keys)
    for g, raw in zip(groups, second[: len(groups)], strict=True):
        facts.groups[g] = GroupFacts.model_validate_json(raw) if raw else None
    for pair, raw in zip(pairs, second[len(groups) :], strict=True):
        facts.coupons[pair] = CouponFacts.model_validate_json(raw) if raw else None
    return facts


def _check(entry: Judged, owner: str | None, facts: _Facts, *, ready: bool, now: int) -> None:
    """Judge one item whose code is the first of its kind in the request. An unknown code
    or a code without facts is a verdict only when the owners' facts are all published."""
    if owner is None:
        if not ready:
            raise FactsUnavailable()
        entry.status = ItemStatus.CODE_DOES_NOT_EXIST
        return
    entry.group = facts.groups.get(owner)
    entry.coupon = facts.coupons.get((owner, entry.item.code))
    if entry.group is None or entry.coupon is None:
        if not ready:
            raise FactsUnavailable()
        entry.status = ItemStatus.CODE_INVALID
        return
    entry.value = rules.coupon_value(entry.group.discount, entry.item.amount)
    if entry.customer_id is None:
        entry.status = ItemStatus.CUSTOMER_NOT_FOUND
        return
    entry.status = rules.check(
        group=entry.group,
        coupon=entry.coupon,
        customer_id=entry.customer_id,
        amount=entry.item.amount,
        transaction_number=entry.item.transaction_number,
        now=now,
    )


async def judge(reads: AutoPipeline, items: Sequence[RedeemItem], *, now: int) -> list[Judged]:
    """Every check except the usage limits (the guard script judges those atomically)."""
    found = await _look_up(reads, items)
    facts = await _read_facts(reads, items, found.owners)
    judged: list[Judged] = []
    seen: set[str] = set()
    for item, owner, customer_id in zip(items, found.owners, found.customer_ids, strict=True):
        entry = Judged(item=item, status=ItemStatus.OK, customer_id=customer_id)
        judged.append(entry)
        if item.code in seen:
            entry.status = ItemStatus.DUPLICATE_IN_REQUEST
            continue
        seen.add(item.code)
        _check(entry, owner, facts, ready=found.facts_ready, now=now)
    return judged
