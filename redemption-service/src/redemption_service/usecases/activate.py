"""CRM activation: a promotion coupon whose promotion grants a subscription, used once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from coupon_core import code_registry, events, facts, keyspace
from coupon_core.db import Connection
from coupon_core.errors import BadRequest, DomainError, Gone, NotFound
from redis.asyncio import Redis

from redemption_service.db import activations
from redemption_service.db.activations import Subscription
from redemption_service.usecases.judge import OWNERS, FactsUnavailable


@dataclass(frozen=True, slots=True)
class Activated:
    coupon_id: int
    promotion_code: str
    subscription: Subscription


OnCommit = Callable[[Connection, Activated], Awaitable[None]]


def _missing() -> DomainError:
    return NotFound("Coupon doesn't exist.", code="coupon_doesnt_exist")


async def _facts_ready(redis: Redis) -> bool:
    found = await redis.exists(*[keyspace.facts_ready(o) for o in OWNERS])
    return int(found) == len(OWNERS)


async def activate(
    pool: asyncpg.Pool,
    redis: Redis,
    *,
    user_id: str,
    code: str,
    notify_user: bool,
    on_commit: OnCommit | None = None,
) -> Activated:
    owner = await code_registry.owner_of(redis, code)
    group, coupon = (None, None) if owner is None else await facts.read(redis, owner, code)
    if group is None or coupon is None:
        if not await _facts_ready(redis):
            raise FactsUnavailable()
        raise _missing()
    if not group.group.startswith(keyspace.PROMOTION + ":") or group.grant is None:
        raise _missing()
    now = datetime.now(UTC)
    stamp = now.timestamp()
    if (coupon.expires_at is not None and stamp > coupon.expires_at) or (
        group.ends_at is not None and stamp > group.ends_at
    ):
        raise Gone("Coupon expired.", code="coupon_expired")
    if group.starts_at is not None and stamp < group.starts_at:
        raise BadRequest("Coupon is not active yet.", code="invalid_input")
    grant = group.grant
    async with pool.acquire() as conn, conn.transaction():
        activation_id = await activations.insert_activation(
            conn, code=code, group_ref=group.group, user_id=user_id
        )
        await activations.lock_user_type(conn, user_id, grant.subscription_type_id)
        latest = await activations.latest_end(conn, user_id, grant.subscription_type_id)
        start = max(now, latest) if latest is not None else now
        subscription = await activations.insert_subscription(
            conn,
            user_id=user_id,
            type_id=grant.subscription_type_id,
            type_name=grant.subscription_type_name,
            start=start,
            end=start + timedelta(days=grant.length_days),
            activation_id=activation_id,
        )
        await events.enqueue(
            conn,
            service="redemption",
            event_type="coupon.activated",
            payload={
                "activationId": str(activation_id),
                "code": code,
                "group": group.group,
                "userId": user_id,
                "subscriptionId": str(subscription.id),
                "notifyUser": notify_user,
                "activatedAt": now.isoformat(),
            },
        )
        result = Activated(coupon.coupon_id, group.group.partition(":")[2], subscription)
        if on_commit is not None:
            await on_commit(conn, result)
    return result
