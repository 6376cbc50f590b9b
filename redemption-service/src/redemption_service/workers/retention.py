"""What the redemption-service removes once past retention (coupon_core.retention runs the jobs):
the outbox, processed_events and idempotency keys; the ledger's months (partitions created
ahead, old months archived: workers/ledger_upkeep.py); the statistics' outcome tallies."""

from __future__ import annotations

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL

from redemption_service.db import stats
from redemption_service.keys import LEDGER_METRICS, SETTINGS
from redemption_service.workers.ledger_upkeep import ledger_jobs


def jobs(app: web.Application) -> list[retention.Job]:
    pool, settings = app[PG_POOL], app[SETTINGS]
    return [
        *retention.standard_jobs(pool, settings, idempotency_keys=True),
        *ledger_jobs(pool, settings, app[LEDGER_METRICS]),
        *(
            retention.sql_job(table, pool, settings.stats_retention, delete, lag)
            for table, (delete, lag) in stats.RETAINED.items()
        ),
    ]
