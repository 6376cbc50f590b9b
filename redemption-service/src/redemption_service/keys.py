"""Typed application keys of the redemption-service."""

from __future__ import annotations

from aiohttp import web
from coupon_core.reconcile import ReconcileMetrics

from redemption_service.db.counters import Counters
from redemption_service.db.group_commit import GroupCommit
from redemption_service.domain.outcomes import OutcomeTally
from redemption_service.settings import Settings
from redemption_service.workers.ledger_upkeep import LedgerMetrics

SETTINGS = web.AppKey("settings", Settings)
COUNTERS = web.AppKey("counters", Counters)
GROUP_COMMIT = web.AppKey("group_commit", GroupCommit)
RECONCILE_METRICS = web.AppKey("reconcile_metrics", ReconcileMetrics)
LEDGER_METRICS = web.AppKey("ledger_metrics", LedgerMetrics)
OUTCOMES = web.AppKey("outcomes", OutcomeTally)
