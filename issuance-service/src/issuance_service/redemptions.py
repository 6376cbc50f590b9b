"""numRedeemed and per-coupon redemptionCount, kept current from redemption events."""

from __future__ import annotations

from coupon_core import keyspace
from coupon_core.consumer import net_uses
from coupon_core.db import Connection
from coupon_core.events import Event

from issuance_service.db import coupons as coupons_db

_DELTAS = {"coupon.redeemed": 1, "coupon.redemption_reversed": -1}


async def on_redemption_events(conn: Connection, batch: list[Event]) -> None:
    """Runs in the consumer's transaction, once per batch of fresh events: their sums per
    coupon in one statement."""
    uses = net_uses(batch, keyspace.SERIES, _DELTAS)
    await coupons_db.add_redemptions(conn, {key: n for key, n in uses.items() if key[0].isdigit()})
