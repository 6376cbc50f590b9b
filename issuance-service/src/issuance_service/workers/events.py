"""Domain events: our outbox relayed to ``events:issuance``; redemption events counted
(numRedeemed and per-coupon redemptionCount)."""

from __future__ import annotations

from coupon_core import redis_keys
from coupon_core.consumer import consumer_task, net_uses
from coupon_core.db import Connection
from coupon_core.events import Event, relay_task

from issuance_service.db import coupons as coupons_db
from issuance_service.usecases.issue import EVENT_STREAM_SERVICE

_DELTAS = {"coupon.redeemed": 1, "coupon.redemption_reversed": -1}


async def on_redemption_events(conn: Connection, batch: list[Event]) -> None:
    """Runs in the consumer's transaction, once per batch of fresh events: their sums per
    coupon in one statement."""
    uses = net_uses(batch, redis_keys.SERIES, _DELTAS)
    await coupons_db.add_redemptions(conn, {key: n for key, n in uses.items() if key[0].isdigit()})


relay = relay_task(EVENT_STREAM_SERVICE)
consume_redemptions = consumer_task(
    stream_service="redemption", consumer="issuance", handler=on_redemption_events
)
