"""CRM activation: a promotion coupon whose promotion grants a subscription, used once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
from coupon_core import code_registry, events, facts, idempotency, redis_keys
from coupon_core.db import Connection, rollback_if_open
from coupon_core.errors import BadRequest, DomainError, Gone, NotFound
from coupon_core.facts import CouponFacts, GroupFacts
from redis.asyncio import Redis

from redemption_service.db import activations
from redemption_service.db.activations import Subscription
from redemption_service.usecases.judge import OWNERS, FactsUnavailable

ACTIVATIONS_PER_COUPON = 1


class Activated(idempotency.Uncommitted):
    """The activation and the subscription it grants, written in a transaction still open:
    the typed result the answer is rendered from before :meth:`commit` commits them with
    the answer."""

    what = "activation"

    def __init__(
        self, conn: Connection, *, coupon_id: int, promotion_code: str, subscription: Subscription
    ) -> None:
        super().__init__(conn)
        self.coupon_id = coupon_id
        self.promotion_code = promotion_code
        self.subscription = subscription


def _missing() -> DomainError:
    return NotFound("Coupon doesn't exist.", code="coupon_doesnt_exist")


async def _facts_ready(redis: Redis) -> bool:
    found = await redis.exists(*[redis_keys.facts_ready(o) for o in OWNERS])
    return int(found) == len(OWNERS)


@contextlib.asynccontextmanager
async def activate(
    pool: asyncpg.Pool,
    redis: Redis,
    *,
    user_id: str,
    user_email: str | None,
    code: str,
    notify_user: bool,
) -> AsyncIterator[Activated]:
    """Activate ``code`` for ``user_id`` (whose email, recorded with the subscription, is
    ``user_email``). The block renders the answer from the
    :class:`Activated` it gets and calls :meth:`Activated.commit`; leaving it any other way
    rolls back. A coupon used already is a refusal (``coupon_already_used``)."""
    owner = await code_registry.owner_of(redis, code)
    group, coupon = (None, None) if owner is None else await facts.read(redis, owner, code)
    if group is None or coupon is None:
        if not await _facts_ready(redis):
            raise FactsUnavailable()
        raise _missing()
    if not group.group.startswith(redis_keys.PROMOTION + ":") or group.grant is None:
        raise _missing()
    now = datetime.now(UTC)
    stamp = now.timestamp()
    if (coupon.expires_at is not None and stamp > coupon.expires_at) or (
        group.ends_at is not None and stamp > group.ends_at
    ):
        raise Gone("Coupon expired.", code="coupon_expired")
    if group.starts_at is not None and stamp < group.starts_at:
        raise BadRequest("Coupon is not active yet.", code="invalid_input")
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        try:
            activated = await _write(
                conn,
                user_id=user_id,
                user_email=user_email,
                code=code,
                group=group,
                coupon=coupon,
                now=now,
                notify_user=notify_user,
            )
        except BaseException:
            await rollback_if_open(conn)
            raise
        async with idempotency.until_committed(activated):
            yield activated


async def _write(
    conn: Connection,
    *,
    user_id: str,
    user_email: str | None,
    code: str,
    group: GroupFacts,
    coupon: CouponFacts,
    now: datetime,
    notify_user: bool,
) -> Activated:
    """The activation, its subscription and its events (coupon.activated, and the
    limit.reached of the coupon it uses up), in the caller's transaction."""
    grant = group.grant
    assert grant is not None
    activation_id = await activations.insert_activation(
        conn, code=code, group_ref=group.group, user_id=user_id
    )
    await activations.lock_user_type(conn, user_id, grant.subscription_type_id)
    latest = await activations.latest_end(conn, user_id, grant.subscription_type_id)
    start = max(now, latest) if latest is not None else now
    subscription = await activations.insert_subscription(
        conn,
        user_id=user_id,
        user_email=user_email,
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
    # A grant coupon activates once, whatever its usage limit: this use is its last.
    await events.enqueue(
        conn,
        service="redemption",
        event_type=events.LIMIT_REACHED,
        payload=events.limit_reached(
            group=group.group,
            code=code,
            counter="redemptions",
            limit=ACTIVATIONS_PER_COUPON,
            reached_at=now.isoformat(),
        ),
    )
    return Activated(
        conn,
        coupon_id=coupon.coupon_id,
        promotion_code=group.group.partition(":")[2],
        subscription=subscription,
    )
