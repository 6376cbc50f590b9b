"""`python -m redemption_service [serve|migrate|reconcile]`: the only place that reads the
environment."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import asyncpg
from coupon_core.lifecycle import redis_from_url
from coupon_core.scripts import load_scripts
from coupon_core.settings import ServiceSettings, load_settings
from coupon_core.web import main
from redis.asyncio import Redis

from redemption_service.app import MIGRATIONS_DIR, SERVICE, create_app, lua_dir
from redemption_service.counters import Counters
from redemption_service.settings import Settings
from redemption_service.usecases.rebuild import reconcile

log = logging.getLogger(__name__)


async def _reconcile_once(settings: ServiceSettings) -> int:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    redis = cast(Redis, redis_from_url(settings.redis_url))  # a cluster client on a cluster URL
    try:
        return await reconcile(pool, Counters(redis, load_scripts(redis, lua_dir())), None)
    finally:
        await redis.aclose()
        await pool.close()


def reconcile_command(settings: ServiceSettings) -> None:
    drift = asyncio.run(_reconcile_once(settings))
    log.info("reconcile done: drift repaired %d", drift)
    print(f"drift repaired: {drift}")


def run() -> None:
    main(
        service=SERVICE,
        load=lambda: load_settings(Settings),
        create_app=create_app,  # type: ignore[arg-type]
        migrations_dir=MIGRATIONS_DIR,
        extra_commands={"reconcile": reconcile_command},
    )


if __name__ == "__main__":
    run()
