"""limit.reached: written with the use that makes a counter reach its limit, exactly once,
in the ledger's own statement (or the activation's transaction), never for a use given back."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
import asyncpg
import pytest
from coupon_core import redis_keys
from coupon_core.facts import SubscriptionGrant
from coupon_core.identity import Principal
from coupon_core.scripts import load_scripts
from coupon_dev.testing.plugin import outbox_payloads
from redemption_service.app import LUA_DIR
from redemption_service.db.counters import REACHED_COUPON, REACHED_TOTAL, Counters, Use
from redis.asyncio import Redis

from .conftest import coupon_in, post_signed, publish_customer, publish_group, redeem_body

REDEEM = "/v1.1/coupon/redeem"


async def _redeem(
    http: aiohttp.ClientSession, base: str, *coupons: dict[str, Any], mode: str = ""
) -> list[int]:
    path = REDEEM + (f"?mode={mode}" if mode else "")
    status, body = await post_signed(http, base, path, redeem_body(*coupons))
    assert status == 200, body
    found = body["response"]["coupons"]["coupon"]
    return [c["item_status"]["code"] for c in (found if isinstance(found, list) else [found])]


async def test_the_last_use_of_a_coupon_writes_one_limit_reached(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, conn: asyncpg.Connection
) -> None:
    await publish_group(redis, "P:LR", ["LR1"], coupon={"usage_limit": 2})
    await publish_customer(redis, "lr-1", mobile="401")
    assert await _redeem(http, replicas[0], coupon_in("LR1", "401")) == [700]
    assert await outbox_payloads(conn, "limit.reached") == []  # below the limit: none
    assert await _redeem(http, replicas[1], coupon_in("LR1", "401")) == [700]
    assert await _redeem(http, replicas[0], coupon_in("LR1", "401")) == [711]
    [reached] = await outbox_payloads(conn, "limit.reached")
    last = (await outbox_payloads(conn, "coupon.redeemed"))[-1]
    assert last["transactionNumber"] is None  # the request named no transaction
    assert reached == {
        "scope": "coupon",
        "group": "P:LR",
        "code": "LR1",
        "counter": "redemptions",
        "limit": 2,
        "used": 2,
        "reachedAt": last["redeemedAt"],
    }


@pytest.mark.parametrize(("group", "scope"), [("P:TOTAL", "promotion"), ("S:77", "series")])
async def test_the_last_total_use_of_a_group_writes_one_limit_reached(
    replicas: list[str],
    http: aiohttp.ClientSession,
    redis: Redis,
    conn: asyncpg.Connection,
    group: str,
    scope: str,
) -> None:
    await publish_group(redis, group, ["TL1", "TL2", "TL3"], total_limit=2)
    await publish_customer(redis, "tl-1", mobile="402")
    assert await _redeem(http, replicas[0], coupon_in("TL1", "402")) == [700]
    assert await outbox_payloads(conn, "limit.reached") == []
    assert await _redeem(http, replicas[1], coupon_in("TL2", "402")) == [700]
    assert await _redeem(http, replicas[0], coupon_in("TL3", "402")) == [714]
    [reached] = await outbox_payloads(conn, "limit.reached")
    assert reached["reachedAt"]
    del reached["reachedAt"]
    assert reached == {
        "scope": scope,
        "group": group,
        "code": None,
        "counter": "redemptions",
        "limit": 2,
        "used": 2,
    }


async def test_one_use_reaching_both_limits_writes_both(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, conn: asyncpg.Connection
) -> None:
    await publish_group(redis, "S:78", ["B1", "B2"], total_limit=3, coupon={"usage_limit": 2})
    await publish_customer(redis, "b-1", mobile="403")
    # One request, partial mode: B1 twice is refused as a duplicate (716), so B1 then B2.
    assert await _redeem(http, replicas[0], coupon_in("B1", "403")) == [700]
    assert await _redeem(http, replicas[0], coupon_in("B2", "403"), coupon_in("B1", "403")) == [
        700,
        700,
    ]
    found = await outbox_payloads(conn, "limit.reached")
    assert sorted((e["scope"], e["code"], e["limit"]) for e in found) == [
        ("coupon", "B1", 2),
        ("series", None, 3),
    ]


async def test_racing_redeems_for_the_last_use_write_exactly_one(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, conn: asyncpg.Connection
) -> None:
    await publish_group(redis, "S:79", ["HOT"], coupon={"usage_limit": 3})
    await publish_group(redis, "P:RACE", [f"R{n}" for n in range(60)], total_limit=5)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(60):
            pipe.set(redis_keys.customer_index("mobile", f"7{n:04d}"), f"race-{n}")
        await pipe.execute()
    gate = asyncio.Semaphore(32)

    async def one(n: int, code: str) -> int:
        async with gate:
            [status] = await _redeem(http, replicas[n % 2], coupon_in(code, f"7{n:04d}"))
            return status

    hot = [one(n, "HOT") for n in range(60)]
    spread = [one(n, f"R{n}") for n in range(60)]
    statuses = await asyncio.gather(*hot, *spread)
    assert Counter(statuses[:60]) == Counter({700: 3, 711: 57})
    assert Counter(statuses[60:]) == Counter({700: 5, 714: 55})
    found = await outbox_payloads(conn, "limit.reached")
    assert sorted((e["scope"], e["group"], e["used"]) for e in found) == [
        ("coupon", "S:79", 3),
        ("promotion", "P:RACE", 5),
    ]


async def test_a_use_given_back_leaves_no_limit_reached(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, conn: asyncpg.Connection
) -> None:
    await publish_group(redis, "P:AAA", ["G1"], total_limit=1)
    await publish_group(redis, "S:80", ["G2"], coupon={"usage_limit": 1})
    await publish_customer(redis, "g-1", mobile="404")
    assert await _redeem(http, replicas[0], coupon_in("G2", "404")) == [700]
    assert [e["group"] for e in await outbox_payloads(conn, "limit.reached")] == ["S:80"]
    # P:AAA is guarded first and reaches its total; S:80 then refuses: all or nothing gives
    # P:AAA's use back, and its limit.reached with it.
    assert await _redeem(http, replicas[0], coupon_in("G1", "404"), coupon_in("G2", "404")) == [
        700,
        711,
    ]
    assert [e["group"] for e in await outbox_payloads(conn, "limit.reached")] == ["S:80"]
    assert await _redeem(http, replicas[1], coupon_in("G1", "404")) == [700]
    assert [e["group"] for e in await outbox_payloads(conn, "limit.reached")] == ["S:80", "P:AAA"]


async def test_a_refused_ledger_statement_writes_no_limit_reached(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, conn: asyncpg.Connection
) -> None:
    await publish_group(redis, "S:81", ["F1"], coupon={"usage_limit": 1})
    await publish_customer(redis, "f-1", mobile="405")
    # A deferred constraint is checked at COMMIT: the server refuses the commit itself.
    await conn.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'refused at commit'; END$$;"
        "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON redemptions "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    status, _ = await post_signed(http, replicas[0], REDEEM, redeem_body(coupon_in("F1", "405")))
    assert status >= 500
    assert await outbox_payloads(conn, "limit.reached") == []
    assert int(await redis.get(redis_keys.redeemed_coupon("S:81", "F1")) or 0) == 0
    await conn.execute("DROP TRIGGER refuse_commit ON redemptions")
    assert await _redeem(http, replicas[0], coupon_in("F1", "405")) == [700]
    assert [e["code"] for e in await outbox_payloads(conn, "limit.reached")] == ["F1"]


async def test_an_activation_uses_up_its_coupon(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, conn: asyncpg.Connection
) -> None:
    grant = SubscriptionGrant(subscription_type_id=1, subscription_type_name="m", length_days=7)
    await publish_group(redis, "P:ACT", ["A1"], grant=grant)
    user = Principal("user", "u-5", "u5@example.com")
    status, _ = await post_signed(
        http, replicas[0], "/api/v1/coupon/activate", {"code": "A1"}, principal=user
    )
    assert status == 200
    status, _ = await post_signed(
        http, replicas[1], "/api/v1/coupon/activate", {"code": "A1"}, principal=user
    )
    assert status == 400
    [reached] = await outbox_payloads(conn, "limit.reached")
    [activated] = await outbox_payloads(conn, "coupon.activated")
    assert reached == {
        "scope": "coupon",
        "group": "P:ACT",
        "code": "A1",
        "counter": "redemptions",
        "limit": 1,
        "used": 1,
        "reachedAt": activated["activatedAt"],
    }


async def test_the_guard_reports_what_reached_its_limit(redis: Redis) -> None:
    """Per item taken: whether the coupon's usage counter and the group's total reached
    their limit with it; nothing for an item not taken, in check mode, or when an
    all-or-nothing call takes nothing."""
    counters = Counters(redis, load_scripts(redis, LUA_DIR))
    await redis.set(redis_keys.redemption_warm("S:82"), "epoch-1")
    uses = [Use("K1", "c1", 1), Use("K2", "c1", 5), Use("K3", "c1", 1), Use("K4", "c1")]
    checked = await counters.guard(
        "check", "S:82", total_limit=3, per_customer_limit=None, uses=uses
    )
    assert (checked.statuses, checked.reached) == ([700, 700, 700, 714], [0, 0, 0, 0])
    refused = await counters.guard("all", "S:82", total_limit=3, per_customer_limit=None, uses=uses)
    assert (refused.statuses, refused.reached) == ([700, 700, 700, 714], [0, 0, 0, 0])
    taken = await counters.guard(
        "partial", "S:82", total_limit=3, per_customer_limit=None, uses=uses
    )
    assert taken.statuses == [700, 700, 700, 714]
    assert taken.reached == [REACHED_COUPON, 0, REACHED_COUPON | REACHED_TOTAL, 0]
    assert taken.epoch == "epoch-1"
    again = await counters.guard(
        "partial", "S:82", total_limit=4, per_customer_limit=None, uses=[Use("K2", "c1", 5)]
    )
    assert (again.statuses, again.reached) == ([700], [REACHED_TOTAL])
