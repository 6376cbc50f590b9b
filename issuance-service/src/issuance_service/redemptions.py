"""numRedeemed and per-coupon redemptionCount, kept current from redemption events."""

from __future__ import annotations

from coupon_core import keyspace
from coupon_core.db import Connection
from coupon_core.events import Event

from issuance_service.db import coupons as coupons_db

_DELTAS = {"coupon.redeemed": 1, "coupon.redemption_reversed": -1}
_SERIES_PREFIX = keyspace.group_ref(keyspace.SERIES, "")


def _counted(event: Event) -> tuple[int, str, int] | None:
    """``(series id, code, +1 or -1)`` of an event about one of our coupons."""
    delta = _DELTAS.get(event.type)
    group = str(event.payload.get("group", ""))
    code = event.payload.get("code")
    if delta is None or not group.startswith(_SERIES_PREFIX) or not isinstance(code, str):
        return None
    try:
        return int(group.removeprefix(_SERIES_PREFIX)), code, delta
    except ValueError:
        return None


async def on_redemption_events(conn: Connection, batch: list[Event]) -> None:
    """Runs in the consumer's transaction, once per batch of fresh events: their sums per
    coupon in one statement."""
    deltas: dict[tuple[int, str], int] = {}
    for event in batch:
        counted = _counted(event)
        if counted is not None:
            series_id, code, delta = counted
            deltas[series_id, code] = deltas.get((series_id, code), 0) + delta
    await coupons_db.add_redemptions(conn, deltas)
