"""The tally's background task: a pass every ``ISSUE_TALLY_INTERVAL_S`` on each replica
(the one that finds an hour to count counts it; the others find the line moved)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from coupon_core.keys import PG_POOL
from coupon_core.lifecycle import every

from issuance_service.keys import SETTINGS
from issuance_service.usecases import tally


async def tally_periodically(app: web.Application) -> None:
    pool = app[PG_POOL]

    async def run_pass() -> None:
        await tally.advance(pool, now=datetime.now(UTC))

    await every(app[SETTINGS].issue_tally_interval_s, "issue tally", run_pass)
