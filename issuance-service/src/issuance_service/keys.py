"""Typed application keys of the issuance-service."""

from __future__ import annotations

from aiohttp import web
from coupon_core.reconcile import ReconcileMetrics
from redis.commands.core import AsyncScript

from issuance_service.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
SCRIPTS = web.AppKey("scripts", dict[str, AsyncScript])
RECONCILE_METRICS = web.AppKey("reconcile_metrics", ReconcileMetrics)
