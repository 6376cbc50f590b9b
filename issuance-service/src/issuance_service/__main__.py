"""`python -m issuance_service [serve|migrate|reconcile]`: the only place that reads the
environment."""

from __future__ import annotations

import asyncpg
from coupon_core.scripts import load_scripts
from coupon_core.web import main
from redis.asyncio import Redis

from issuance_service.app import LUA_DIR, MIGRATIONS_DIR, SERVICE, create_app
from issuance_service.settings import Settings
from issuance_service.usecases.reconcile import reconcile


async def reconcile_all(pool: asyncpg.Pool, redis: Redis) -> int:
    return await reconcile(pool, redis, load_scripts(redis, LUA_DIR), None)


if __name__ == "__main__":
    main(SERVICE, Settings, create_app, MIGRATIONS_DIR, reconcile=reconcile_all)
