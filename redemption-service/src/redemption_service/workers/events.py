"""Domain events: the outbox relayed to ``events:redemption``."""

from __future__ import annotations

from aiohttp import web
from coupon_core.events import relay_outbox
from coupon_core.keys import METRICS, PG_POOL, REDIS

from redemption_service.keys import SETTINGS

EVENT_SOURCE = "redemption"


async def relay(app: web.Application) -> None:
    await relay_outbox(
        app[PG_POOL],
        app[REDIS],
        service=EVENT_SOURCE,
        max_entries=app[SETTINGS].stream_max_entries,
        metrics=app[METRICS],
    )
