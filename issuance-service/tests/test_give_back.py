"""What an issue took is given back when it fails later; counters survive being lost while
issues are in flight."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, cast

import aiohttp
import asyncpg
from coupon_core import redis_keys
from coupon_core.identity import Principal
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.plugin import signed_as
from issuance_service.app import create_app
from issuance_service.settings import Settings
from redis.asyncio import Redis

PRINCIPAL = Principal("api_token", "1", "test")
SIGNED = (signed_as(PRINCIPAL),)
ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"

FAIL_FOR_CUSTOMER = """
CREATE FUNCTION refuse_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.customer_id = {customer_id} THEN
        RAISE EXCEPTION 'refused by test trigger';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_issue BEFORE INSERT ON issued_coupons
    FOR EACH ROW EXECUTE FUNCTION refuse_issue();
"""


async def test_a_failed_insert_gives_back_counters_and_codes(
    api: Any, new_series: Any, database_url: str, redis_url: str
) -> None:
    series = await (
        await api.post("/v2/coupon/series", json=new_series(maxCreate=2, maxVouchersPerUser=1))
    ).json()
    group = f"S:{series['id']}"
    ok = await api.post(
        "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"mobile": "1"}}
    )
    assert ok.status == 200
    victim = await (await api.post("/v2/customers", json={"mobile": "2"})).json()
    db = await asyncpg.connect(database_url)
    redis = cast(Redis, redis_from_url(redis_url))
    try:
        await db.execute(FAIL_FOR_CUSTOMER.format(customer_id=int(victim["id"])))
        body = {"seriesId": series["id"], "customer": {"id": victim["id"]}}
        failed = await api.post("/v2/coupon/issue", json=body)
        assert failed.status == 500
        assert (await failed.json())["errors"][0]["code"] == 500
        customer = str(victim["id"])
        assert await redis.get(redis_keys.issued_total(group)) == b"1"
        assert await redis.get(redis_keys.issued_to_customer(group, customer)) == b"0"
        assert await redis.get(redis_keys.last_issued_to_customer(group, customer)) is None
        owners = [key async for key in redis.scan_iter(match="{C:*}:owner")]
        assert len(owners) == 1  # only the first coupon's code stays reserved
        # The pool skips its reset query: the series' lock must have ended with the rollback.
        assert await db.fetchval(ADVISORY_LOCKS) == 0

        await db.execute("DROP TRIGGER refuse_issue ON issued_coupons")
        again = await api.post("/v2/coupon/issue", json=body)
        assert again.status == 200, await again.text()
        assert await db.fetchval("SELECT count(*) FROM issued_coupons") == 2
    finally:
        await redis.aclose()
        await db.close()


async def test_counters_lost_repeatedly_during_a_storm(
    replica_settings: Settings,
    database_url: str,
    redis_url: str,
    aiohttp_server: Any,
    new_series: Any,
) -> None:
    limit, requests = 150, 600
    servers = [await aiohttp_server(create_app(replica_settings)) for _ in range(2)]
    bases = [str(s.make_url("")).rstrip("/") for s in servers]
    redis = cast(Redis, redis_from_url(redis_url))
    path = "/v2/coupon/issue"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def post(base: str, route: str, body: Any) -> tuple[int, Any]:
            async with session.post(base + route, json=body, middlewares=SIGNED) as resp:
                return resp.status, await resp.json()

        _, series = await post(bases[0], "/v2/coupon/series", new_series(maxCreate=limit))
        group = f"S:{series['id']}"
        losses = 0

        async def lose_counters() -> None:
            nonlocal losses
            # Every counter of the series gone at once, as when Redis restarts empty.
            keys = [redis_keys.issuance_warm(group), redis_keys.issued_total(group)]
            for customer_id in range(1, requests + 1):
                keys.append(redis_keys.issued_to_customer(group, str(customer_id)))
                keys.append(redis_keys.last_issued_to_customer(group, str(customer_id)))
            losses += int(await redis.delete(*keys) > 0)

        async def issue(i: int, base: str) -> tuple[int, Any]:
            answer = await post(
                base, path, {"seriesId": series["id"], "customer": {"mobile": f"c{i}"}}
            )
            if i % 25 == 0:  # while the other requests are in flight
                await lose_counters()
            return answer

        results = await asyncio.gather(
            *(
                issue(i, base)
                for i, base in zip(range(requests), itertools.cycle(bases), strict=False)
            )
        )
    await redis.aclose()
    statuses = [status for status, _ in results]
    assert statuses.count(200) == limit
    assert statuses.count(400) == requests - limit
    assert losses > 0
    db = await asyncpg.connect(database_url)
    try:
        assert await db.fetchval("SELECT count(*) FROM issued_coupons") == limit
    finally:
        await db.close()


ISSUED_EVENTS = "SELECT count(*) FROM outbox WHERE event_type = 'coupon.issued'"

REFUSE_AT_COMMIT = """
CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused at commit by test trigger';
END $$;
CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON issued_coupons
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();
"""


async def test_a_refused_commit_keeps_the_take_until_a_rebuild(
    api: Any, new_series: Any, database_url: str, redis_url: str
) -> None:
    """A COMMIT that fails may have landed for all the service knows: what it took stays
    taken (the limit only refuses more), and a rebuild brings the counters to the ledger."""
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=2))).json()
    group = f"S:{series['id']}"
    body = {"seriesId": series["id"], "customer": {"mobile": "1"}}
    assert (await api.post("/v2/coupon/issue", json=body)).status == 200
    db = await asyncpg.connect(database_url)
    redis = cast(Redis, redis_from_url(redis_url))
    try:
        await db.execute(REFUSE_AT_COMMIT)
        failed = await api.post("/v2/coupon/issue", json=body)
        assert failed.status == 500
        await db.execute("DROP TRIGGER refuse_commit ON issued_coupons")
        assert await db.fetchval("SELECT count(*) FROM issued_coupons") == 1
        assert await db.fetchval(ISSUED_EVENTS) == 1
        assert await db.fetchval(ADVISORY_LOCKS) == 0
        assert await redis.get(redis_keys.issued_total(group)) == b"2"
        refused = await api.post("/v2/coupon/issue", json=body)
        assert refused.status == 400
        assert (await refused.json())["errors"][0]["code"] == 722

        await redis.delete(redis_keys.issuance_warm(group))  # as after Redis lost its data
        again = await api.post("/v2/coupon/issue", json=body)
        assert again.status == 200, await again.text()
        assert await redis.get(redis_keys.issued_total(group)) == b"2"
        assert await db.fetchval("SELECT count(*) FROM issued_coupons") == 2
    finally:
        await redis.aclose()
        await db.close()
