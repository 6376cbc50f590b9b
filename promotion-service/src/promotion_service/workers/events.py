"""Domain events: our outbox relayed to ``events:promotion``; redemption events counted."""

from __future__ import annotations

from coupon_core import events, redis_keys
from coupon_core.consumer import consumer_task, net_uses
from coupon_core.db import Connection

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


relay = events.relay_task(SERVICE)
consume_redemptions = consumer_task(
    stream_service="redemption", consumer=SERVICE, handler=count_uses
)
