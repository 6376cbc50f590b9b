"""The statistics' upkeep, every STATS_FLUSH_S on each replica (docs/redemption.md,
"Statistics"):

- this replica's outcome tallies (domain/outcomes.py) are added to PostgreSQL with one
  statement, and once more on the way out. A flush the server refused (it rolled back), or
  that got no connection, keeps its counts for the next one; one whose answer was lost with
  its connection may have committed, so its counts are dropped rather than risk counting
  them twice. A replica that dies without stopping loses what it counted since its last
  flush.
- the roll-up counts the ledger rows redeemed since its mark into redemptions per hour and
  per day and group, a step (at most an hour of the ledger, each its own transaction) at a
  time until it is caught up; a replica finding another one stepping leaves it to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import asyncpg
from aiohttp import web
from coupon_core.db import rolled_back
from coupon_core.keys import PG_POOL

from redemption_service.db import stats
from redemption_service.domain.outcomes import OutcomeTally
from redemption_service.keys import OUTCOMES, SETTINGS

log = logging.getLogger(__name__)

_STORE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


async def flush(app: web.Application) -> bool:
    """Add the tallies counted since the last flush; whether they are written (True when
    there was nothing to write)."""
    tally = app[OUTCOMES]
    taken = tally.take()
    if not taken:
        return True
    sent = False
    try:
        async with app[PG_POOL].acquire() as conn:
            sent = True
            await stats.add_outcomes(conn, taken)
    except _STORE_ERRORS as exc:
        if sent and not rolled_back(exc):
            log.warning("outcome tallies lost with their connection: %r", exc)
        else:
            tally.give_back(taken)
            log.warning("outcome tallies kept for the next flush: %r", exc)
        return False
    except BaseException:
        tally.give_back(taken)  # cancelled (the final flush writes them) or a bug
        raise
    return True


async def roll_up(app: web.Application) -> int:
    """Steps of the roll-up until it is caught up (or another replica is stepping); how
    many were tried."""
    margin = timedelta(seconds=app[SETTINGS].reconcile_margin_s)
    steps = 1
    async with app[PG_POOL].acquire() as conn:
        while await stats.roll_up_step(conn, margin=margin):
            steps += 1
    return steps


async def _every(
    app: web.Application, work: Callable[[web.Application], Awaitable[object]]
) -> None:
    while True:
        await asyncio.sleep(app[SETTINGS].stats_flush_s)
        try:
            await work(app)
        except _STORE_ERRORS as exc:
            log.warning("statistics: %s failed: %r; next round", work.__name__, exc)
        except Exception:
            log.exception("statistics: %s failed; next round", work.__name__)


async def stats_ctx(app: web.Application) -> AsyncIterator[None]:
    """The tallies for the app's lifetime, their flushes and the roll-up's rounds; a last
    flush when stopping (cleanup contexts run once the server has drained its requests)."""
    app[OUTCOMES] = OutcomeTally()
    tasks = [
        asyncio.create_task(_every(app, work), name=f"stats-{work.__name__}")
        for work in (flush, roll_up)
    ]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await flush(app)
