"""Typed application keys for the objects every process shares."""

from __future__ import annotations

import asyncpg
from aiohttp import ClientSession, web
from redis.asyncio import Redis

from coupon_core.identity import Principal
from coupon_core.metrics import Metrics
from coupon_core.migrations import MigrationSet
from coupon_core.replay import NonceBook
from coupon_core.settings import ServiceSettings

CORE_SETTINGS = web.AppKey("core_settings", ServiceSettings)
PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
HTTP_SESSION = web.AppKey("http_session", ClientSession)
METRICS = web.AppKey("metrics", Metrics)
MIGRATIONS = web.AppKey("migrations", MigrationSet)
NONCES = web.AppKey("nonces", NonceBook)

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)
# The ``route`` label of the request's HTTP metrics, set where the matched route's own
# template says nothing (the gateway's catch-all proxy route sets the platform template).
ROUTE_LABEL = web.RequestKey("route_label", str)
