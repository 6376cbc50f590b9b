"""Republishes every fact, code registry entry and customer index entry when Redis lost
them (the ``facts:ready:issuance`` marker is gone)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.keys import PG_POOL, REDIS
from redis.exceptions import RedisError

from issuance_service.usecases.publish import republish_all

log = logging.getLogger(__name__)

FACTS_OWNER = "issuance"
POLL_S = 0.5


async def republish_when_lost(app: web.Application) -> None:
    """Background task: republish everything whenever the ready marker is missing."""
    pool, redis = app[PG_POOL], app[REDIS]
    marker = redis_keys.facts_ready(FACTS_OWNER)
    while True:
        try:
            if not await redis.exists(marker):
                count = await republish_all(pool, redis)
                await redis.set(marker, datetime.now(UTC).isoformat())
                log.info("published the facts of %d issued coupons", count)
            await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("republishing issuance facts: %r; retrying", exc)
            await asyncio.sleep(POLL_S)
