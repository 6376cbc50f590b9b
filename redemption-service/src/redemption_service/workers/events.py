"""Domain events: the outbox relayed to ``events:redemption``."""

from __future__ import annotations

from coupon_core.events import relay_task

EVENT_SOURCE = "redemption"

relay = relay_task(EVENT_SOURCE)
