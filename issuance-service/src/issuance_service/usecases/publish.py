"""Facts, code registry entries and the customer index, published to Redis.

Written after each commit (before the response); the republisher (workers/facts.py) writes
everything again from PostgreSQL (:func:`republish_all`) when ``facts:ready:issuance`` is
missing (Redis lost its data).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from coupon_core import customers, facts, redis_keys
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from issuance_service.db import coupons as coupons_db
from issuance_service.db import customers as customers_db
from issuance_service.db import series as series_db
from issuance_service.domain import rules
from issuance_service.domain.models import Customer, IssuedCoupon, Series

BATCH = 1000


async def publish_issued(
    redis: Redis, series: Series, coupons: Sequence[IssuedCoupon], owner: Customer
) -> None:
    """Group and coupon facts; the registry entries and the owner's index entries again (a
    no-op unless Redis lost them since)."""
    async with redis.pipeline(transaction=False) as pipe:
        _index(pipe, owner)
        pipe.set(redis_keys.group_facts(series.group), rules.group_facts(series).model_dump_json())
        for coupon in coupons:
            pipe.set(
                redis_keys.coupon_facts(series.group, coupon.code),
                rules.coupon_facts(series, coupon).model_dump_json(),
            )
            pipe.set(redis_keys.code_owner(coupon.code), series.group, nx=True)
        await pipe.execute()


async def publish_series(pool: asyncpg.Pool, redis: Redis, series: Series) -> None:
    """A series' facts and those of all its coupons (limits they carry may have changed)."""
    await facts.publish(redis, rules.group_facts(series))
    after = 0
    while True:
        async with pool.acquire() as conn:
            batch = await coupons_db.of_series(conn, series.id, after=after, limit=BATCH)
        if not batch:
            return
        await facts.publish_coupons(redis, [rules.coupon_facts(series, c) for c in batch])
        after = batch[-1].id


async def publish_customer(redis: Redis, customer: Customer) -> None:
    await customers.publish(redis, str(customer.id), customer.identifiers())


def _index(pipe: Pipeline, customer: Customer) -> None:
    customer_id = str(customer.id)
    pipe.set(redis_keys.customer_index("id", customer_id), customer_id)
    for identifier, value in customer.identifiers().items():
        pipe.set(redis_keys.customer_index(identifier, value), customer_id)


async def _publish_customers(redis: Redis, batch: Sequence[Customer]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for customer in batch:
            _index(pipe, customer)
        await pipe.execute()


async def republish_all(pool: asyncpg.Pool, redis: Redis) -> int:
    """Everything this service owns, from PostgreSQL, pipelined in batches; returns the
    number of coupons published. Series and coupons whose keys were retired stay out: their
    keys would otherwise come back."""
    all_series: dict[int, Series] = {}
    published = 0
    async with pool.acquire() as conn:
        while page := await series_db.list_page(
            conn, after=max(all_series, default=0), limit=BATCH, counted=False, unretired=True
        ):
            all_series.update((s.id, s) for s in page)
            async with redis.pipeline(transaction=False) as pipe:
                for series in page:
                    pipe.set(
                        redis_keys.group_facts(series.group),
                        rules.group_facts(series).model_dump_json(),
                    )
                await pipe.execute()
        async for coupons in coupons_db.iterate(conn, batch=BATCH):
            async with redis.pipeline(transaction=False) as pipe:
                for coupon in coupons:
                    if coupon.series_id not in all_series:  # created after the pages were read
                        found = await series_db.get(conn, coupon.series_id, counted=False)
                        assert found is not None
                        all_series[found.id] = found
                    series = all_series[coupon.series_id]
                    pipe.set(
                        redis_keys.coupon_facts(series.group, coupon.code),
                        rules.coupon_facts(series, coupon).model_dump_json(),
                    )
                    pipe.set(redis_keys.code_owner(coupon.code), series.group, nx=True)
                await pipe.execute()
            published += len(coupons)
        async for batch in customers_db.iterate(conn, batch=BATCH):
            await _publish_customers(redis, batch)
    return published
