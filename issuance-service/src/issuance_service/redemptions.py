"""numRedeemed and per-coupon redemptionCount, kept current from redemption events."""

from __future__ import annotations

from coupon_core import keyspace
from coupon_core.db import Connection
from coupon_core.events import Event

from issuance_service.db import coupons as coupons_db

_DELTAS = {"coupon.redeemed": 1, "coupon.redemption_reversed": -1}
_SERIES_PREFIX = keyspace.group_ref(keyspace.SERIES, "")


async def on_redemption_event(conn: Connection, event: Event) -> None:
    """Runs in the consumer's transaction, once per event."""
    delta = _DELTAS.get(event.type)
    group = str(event.payload.get("group", ""))
    code = event.payload.get("code")
    if delta is None or not group.startswith(_SERIES_PREFIX) or not isinstance(code, str):
        return
    try:
        series_id = int(group.removeprefix(_SERIES_PREFIX))
    except ValueError:
        return
    await coupons_db.add_redemption(conn, series_id, code, delta)
