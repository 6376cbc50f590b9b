"""`python -m redemption_service [serve|migrate|reconcile]`: the only place that reads the
environment."""

from __future__ import annotations

import asyncpg
from coupon_core.scripts import load_scripts
from coupon_core.web import main
from redis.asyncio import Redis

from redemption_service.app import LUA_DIR, MIGRATIONS_DIR, SERVICE, create_app
from redemption_service.db.counters import Counters
from redemption_service.settings import Settings
from redemption_service.usecases.reconcile import reconcile


async def reconcile_all(pool: asyncpg.Pool, redis: Redis) -> int:
    return await reconcile(pool, Counters(redis, load_scripts(redis, LUA_DIR)), None)


if __name__ == "__main__":
    main(SERVICE, Settings, create_app, MIGRATIONS_DIR, reconcile=reconcile_all)
