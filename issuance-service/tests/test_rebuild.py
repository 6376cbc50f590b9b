"""A cold series' counters rebuilt from PostgreSQL, in several script batches."""

from __future__ import annotations

from typing import Any

from coupon_core import redis_keys
from coupon_core.keys import PG_POOL, REDIS
from issuance_service.app import create_app
from issuance_service.db import counters
from issuance_service.keys import SCRIPTS
from issuance_service.settings import Settings

CUSTOMERS = 1200  # more than two rebuild batches

SEED_ROWS = """
INSERT INTO series (id, description, discount_code, discount_type, discount_value, discount_on,
                    valid_till_date)
VALUES (5, 'rebuild', '', 'ABS', 1, 'BILL', now() + interval '1 day');
INSERT INTO customers (id, mobile) SELECT n, 'm' || n FROM generate_series(1, {customers}) n;
-- Customer n holds n % 3 + 1 coupons, the latest issued n minutes after 2026-01-01.
INSERT INTO issued_coupons (series_id, customer_id, code, valid_till, issued_at)
SELECT 5, n, 'R' || n || '-' || k, now() + interval '1 day',
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => n) - make_interval(days => k)
FROM generate_series(1, {customers}) n, generate_series(0, 2) k
WHERE k <= n % 3;
"""


async def test_rebuild_installs_every_customer_and_marks_warm(
    service_env: dict[str, Any], aiohttp_client: Any
) -> None:
    app = create_app(Settings(**service_env))
    await aiohttp_client(app)
    pool, redis = app[PG_POOL], app[REDIS]
    async with pool.acquire() as conn:
        await conn.execute(SEED_ROWS.format(customers=CUSTOMERS))
    group = "S:5"
    await redis.delete(redis_keys.issuance_warm(group))

    await counters.rebuild(pool, redis, app[SCRIPTS], 5)

    expected_total = sum(n % 3 + 1 for n in range(1, CUSTOMERS + 1))
    assert await redis.get(redis_keys.issued_total(group)) == str(expected_total).encode()
    assert await redis.exists(redis_keys.issuance_warm(group))
    base = 1767225600  # 2026-01-01T00:00:00Z
    for n in (1, 2, 3, 600, 1199, 1200):
        customer = str(n)
        assert (
            await redis.get(redis_keys.issued_to_customer(group, customer))
            == str(n % 3 + 1).encode()
        )
        last = await redis.get(redis_keys.last_issued_to_customer(group, customer))
        assert last == str(base + 60 * n).encode()
