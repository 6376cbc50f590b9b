"""Domain events: our outbox relayed to ``events:promotion``; redemption events counted."""

from __future__ import annotations

from aiohttp import web
from coupon_core import events, redis_keys
from coupon_core.consumer import consume, net_uses
from coupon_core.db import Connection
from coupon_core.keys import CORE_SETTINGS, METRICS, PG_POOL, REDIS

from promotion_service.db import coupons as coupon_db

SERVICE = "promotion"
USED_DELTA = {
    "coupon.redeemed": 1,
    "coupon.activated": 1,
    "coupon.redemption_reversed": -1,
}


async def count_uses(conn: Connection, batch: list[events.Event]) -> None:
    """Keep ``used`` of coupons and their promotions in step with redemptions; ``consume``
    runs this once per batch of fresh events, in the transaction that records them as
    processed: their sums per coupon in one statement."""
    await coupon_db.add_used(conn, net_uses(batch, redis_keys.PROMOTION, USED_DELTA))


async def relay(app: web.Application) -> None:
    await events.relay_outbox(
        app[PG_POOL],
        app[REDIS],
        service=SERVICE,
        max_entries=app[CORE_SETTINGS].stream_max_entries,
        metrics=app[METRICS],
    )


async def consume_redemptions(app: web.Application) -> None:
    await consume(
        app[PG_POOL], app[REDIS], stream_service="redemption", consumer=SERVICE, handler=count_uses
    )
