"""Republishes every fact and registry entry when Redis lost them (its marker is gone)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.lifecycle import check_stopping
from redis.exceptions import RedisError

from promotion_service.keys import SETTINGS
from promotion_service.usecases import publish

log = logging.getLogger(__name__)

FACTS_OWNER = "promotion"


async def republish_when_lost(app: web.Application) -> None:
    pool, redis, settings = app[PG_POOL], app[REDIS], app[SETTINGS]
    marker = redis_keys.facts_ready(FACTS_OWNER)
    while True:
        check_stopping()
        try:
            if not await redis.exists(marker):
                count = await publish.everything(pool, redis, batch_size=settings.facts_batch_size)
                await redis.set(marker, datetime.now(UTC).isoformat())
                log.info("published the facts of %d promotion coupons", count)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            check_stopping()
            log.warning("facts republisher: %r; retrying", exc)
        await asyncio.sleep(settings.facts_check_s)
