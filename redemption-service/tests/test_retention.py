"""The running service removes what is past retention on its own (coupon_core.retention)."""

from __future__ import annotations

from typing import Any

from coupon_core.keys import METRICS, PG_POOL
from coupon_dev.testing.poll import until
from redemption_service.app import create_app
from redemption_service.settings import Settings


async def test_the_service_removes_old_outbox_rows_and_keys_on_its_own(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    settings = Settings(**service_env, reconcile_interval_s=0, retention_interval_s=0.05)
    app = (await aiohttp_client(create_app(settings))).app
    pool = app[PG_POOL]
    await pool.execute(
        "INSERT INTO outbox (stream, event_type, payload, created_at, published_at) "
        "SELECT 'events:redemption', 'coupon.redeemed', '{}'::jsonb, now() - age, now() "
        "FROM unnest(ARRAY[interval '73 hours', interval '100 days', interval '1 hour']) age"
    )
    await pool.execute(
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) "
        "VALUES ('redeem', 'old', 'h', now() - interval '25 hours'), "
        "('redeem', 'new', 'h', now() - interval '23 hours')"
    )

    async def removed() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT (SELECT count(*) FROM outbox) = 1 "
                "AND (SELECT count(*) FROM idempotency_keys) = 1"
            )
        )

    await until(removed, "the retention pass")
    assert await pool.fetchval("SELECT now() - created_at < interval '2 hours' FROM outbox")
    assert await pool.fetchval("SELECT key FROM idempotency_keys") == "new"
    metrics = app[METRICS].render().decode()
    assert 'retention_removed_total{task="outbox"} 2.0' in metrics
    assert 'retention_removed_total{task="idempotency_keys"} 1.0' in metrics
