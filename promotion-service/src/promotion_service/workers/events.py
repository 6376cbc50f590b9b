"""Domain events: our outbox relayed to ``events:promotion``; redemption events counted."""

from __future__ import annotations

from aiohttp import web
from coupon_core import events
from coupon_core.consumer import consume
from coupon_core.db import Connection
from coupon_core.keys import PG_POOL, REDIS

from promotion_service.db import coupons as coupon_db

SERVICE = "promotion"
USED_DELTA = {
    "coupon.redeemed": 1,
    "coupon.activated": 1,
    "coupon.redemption_reversed": -1,
}


async def count_use(conn: Connection, event: events.Event) -> None:
    """Keep ``used`` of a coupon and its promotion in step with redemptions; ``consume``
    runs this once per event, in the transaction that records the event as processed."""
    delta = USED_DELTA.get(event.type)
    group = str(event.payload.get("group", ""))
    if delta is None or not group.startswith("P:"):
        return
    promotion_code = group[2:]
    await coupon_db.add_used(conn, promotion_code, str(event.payload.get("code", "")), delta)


async def relay(app: web.Application) -> None:
    await events.relay_outbox(app[PG_POOL], app[REDIS], service=SERVICE)


async def consume_redemptions(app: web.Application) -> None:
    await consume(
        app[PG_POOL], app[REDIS], stream_service="redemption", consumer=SERVICE, handler=count_use
    )
