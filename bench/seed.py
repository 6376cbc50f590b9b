"""A year of traffic, written by COPY into a running stack's databases (``make bench-data``).

At ``scale`` 1: 1,000,000 promotion coupons (``SEED-BIG`` holds ~90 % of them), 1,000,000
customers, 1,000,000 coupons issued from a few hundred series, 10,000,000 ledger rows spread
over the last 365 days (ids grow with time; ``SEED-BIG`` has a tenth of them, 1,000,000), one
published ``coupon.redeemed`` outbox row per redemption and a completed Idempotency-Key for
every tenth redeem. Every counter the services keep in PostgreSQL (``used``,
``numRedeemed``, ``redemptionCount``) matches the ledger, and ``SEED-LIMITED``'s coupons
(usage limit 2) are each redeemed twice, so their next redeem is refused.

Rows are what the services write themselves (same columns, same payloads); Redis is then
filled the way it is after a data loss: the ready markers of the owning services are removed
and their republishers publish every fact, registry entry and customer index entry from
PostgreSQL. Counters stay cold; the first redeem of a group rebuilds them from the ledger.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from coupon_core import redis_keys
from coupon_dev.stack import SERVICES, with_database
from issuance_service.db import tally as tally_db
from redis.asyncio import Redis

from bench.copying import YEAR_S, Clock, copy_rows, finish_tables

FAR = "2099-01-01 00:00:00+00"
STEP = 10  # of every 10 ledger rows: 1 SEED-BIG, 1 other promotion, 8 series coupons
LIMITED_USES = 2
SCOPE = "redeem:api_token:seed"
BIG, P2, P3, LIMITED = "SEED-BIG", "SEED-P2", "SEED-P3", "SEED-LIMITED"
ACTIONS = '[{"type": "order_fixed_discount", "configuration": {"amount": 5}}]'
PROMO_VALUE, SERIES_VALUE = "5.00", "10.00"
OWNERS = ("promotion", "issuance")
ISSUED_COLUMNS = [
    "id",
    "series_id",
    "customer_id",
    "code",
    "valid_till",
    "issued_at",
    "redemption_count",
]


def database(base_url: str, service: str) -> str:
    return with_database(base_url, SERVICES[service][1])


def share(rows: int, slots: int, index: int) -> int:
    """Rows landing on slot ``index`` when ``rows`` are dealt round-robin over ``slots``."""
    return rows // slots + (1 if index < rows % slots else 0)


@dataclass(frozen=True)
class Volume:
    customers: int
    series: int
    issued: int
    limited: int  # SEED-LIMITED coupons: ids 1..limited
    others: int  # SEED-P2 then SEED-P3 coupons: the next ``others`` ids
    big: int  # SEED-BIG coupons: the rest
    redemptions: int

    @classmethod
    def at(cls, scale: float) -> Volume:
        def n(full: int, least: int) -> int:
            return max(least, round(full * scale))

        promotion_coupons, issued = n(1_000_000, 40), n(1_000_000, 20)
        limited, others = max(2, promotion_coupons // 1000), max(4, promotion_coupons // 10)
        return cls(
            customers=n(1_000_000, 20),
            series=min(300, max(2, issued // 50)),
            issued=issued,
            limited=limited,
            others=others,
            big=promotion_coupons - limited - others,
            redemptions=max(n(10_000_000, 400), STEP * 2 * LIMITED_USES * limited),
        )

    @property
    def promotion_coupons(self) -> int:
        return self.limited + self.others + self.big

    @property
    def big_rows(self) -> int:
        return len(range(0, self.redemptions, STEP))

    @property
    def other_rows(self) -> int:
        return len(range(1, self.redemptions, STEP))

    @property
    def series_rows(self) -> int:
        return self.redemptions - self.big_rows - self.other_rows

    def promotion_of(self, coupon_id: int) -> int:
        """Promotion id (1 BIG, 2 P2, 3 P3, 4 LIMITED) of promotion coupon ``coupon_id``."""
        if coupon_id <= self.limited:
            return 4
        if coupon_id <= self.limited + self.others // 2:
            return 2
        return 3 if coupon_id <= self.limited + self.others else 1

    def coupon_uses(self, coupon_id: int) -> int:
        if coupon_id <= self.limited:
            return LIMITED_USES
        if coupon_id <= self.limited + self.others:
            rows = self.other_rows - LIMITED_USES * self.limited
            return share(rows, self.others, coupon_id - self.limited - 1)
        return share(self.big_rows, self.big, coupon_id - self.limited - self.others - 1)

    def owner(self, issued_index: int) -> int:
        """The customer issued coupon ``issued_index`` (0-based) belongs to."""
        return 1 + (issued_index * 7919) % self.customers

    def row(self, i: int) -> tuple[str, str, int, str]:
        """Code, group, customer id and coupon value of ledger row ``i`` (0-based)."""
        kind, k = i % STEP, i // STEP
        if kind == 0:
            coupon = self.limited + self.others + 1 + k % self.big
        elif kind == 1:
            if k < LIMITED_USES * self.limited:
                coupon = 1 + k % self.limited
            else:
                coupon = self.limited + 1 + (k - LIMITED_USES * self.limited) % self.others
        else:
            j = (k * (STEP - 2) + kind - 2) % self.issued
            return f"SI{j + 1:010d}", f"S:{1 + j % self.series}", self.owner(j), SERIES_VALUE
        promo = (BIG, P2, P3, LIMITED)[self.promotion_of(coupon) - 1]
        return f"PC{coupon:010d}", f"P:{promo}", 1 + (i * 104729) % self.customers, PROMO_VALUE


@dataclass
class Seeded:
    rows: dict[str, int]
    seconds: float
    publish_seconds: float
    redis_before: int
    redis_after: int


async def seed_promotion(url: str, v: Volume, rows: dict[str, int]) -> None:
    used = [0, 0, 0, 0]
    for c in range(1, v.promotion_coupons + 1):
        used[v.promotion_of(c) - 1] += v.coupon_uses(c)
    conn = await asyncpg.connect(url)
    try:
        names = (BIG, P2, P3, LIMITED)
        await copy_rows(
            conn,
            "promotions",
            ["id", "code", "name", "coupon_based", "actions", "used"],
            4,
            lambda i: f"{i + 1}\t{names[i]}\t{names[i]}\tt\t{ACTIONS}\t{used[i]}\n",
            rows,
        )

        def coupon(i: int) -> str:
            c = i + 1
            limit = str(LIMITED_USES) if c <= v.limited else "\\N"
            return f"{c}\t{v.promotion_of(c)}\tPC{c:010d}\t{limit}\t{v.coupon_uses(c)}\n"

        await copy_rows(
            conn,
            "coupons",
            ["id", "promotion_id", "code", "usage_limit", "used"],
            v.promotion_coupons,
            coupon,
            rows,
        )
        await finish_tables(conn, ["promotions", "coupons"])
    finally:
        await conn.close()


async def seed_issuance(url: str, v: Volume, clock: Clock, rows: dict[str, int]) -> None:
    counts = [share(v.series_rows, v.issued, j) for j in range(v.issued)]
    redeemed = [0] * (v.series + 1)
    for j, n in enumerate(counts):
        redeemed[1 + j % v.series] += n
    conn = await asyncpg.connect(url)
    try:
        await copy_rows(
            conn, "customers", ["id", "mobile"], v.customers, lambda i: f"{i + 1}\t9{i:09d}\n", rows
        )
        await copy_rows(
            conn,
            "series",
            [
                "id",
                "description",
                "discount_code",
                "discount_type",
                "discount_value",
                "discount_on",
                "valid_till_date",
                "redemption_per_coupon_max_limit",
                "same_user_multiple_redeem",
                "num_redeemed",
            ],
            v.series,
            lambda i: (
                f"{i + 1}\tseeded series {i + 1}\tSEED{i + 1}\tABS\t10\tBILL\t{FAR}\t-1\tt"
                f"\t{redeemed[i + 1]}\n"
            ),
            rows,
        )
        issued_at = Clock(v.issued, clock.start + YEAR_S / 2)

        def issued(j: int) -> str:
            return (
                f"{j + 1}\t{1 + j % v.series}\t{v.owner(j)}\tSI{j + 1:010d}\t{FAR}\t"
                f"{issued_at.at(j)}\t{counts[j]}\n"
            )

        await copy_rows(
            conn,
            "issued_coupons",
            ISSUED_COLUMNS,
            v.issued,
            issued,
            rows,
        )
        # The statistics' tally would not count coupons issued before its line.
        await tally_db.recount(conn)
        await finish_tables(conn, ["customers", "series", "issued_coupons"])
    finally:
        await conn.close()


def _response(code: str, value: str) -> str:
    """The stored body of a completed redeem (the shape views.redeem_body answers)."""
    return (
        '{"response": {"status": {"code": 200, "message": "Success", "success": "true"}, '
        f'"coupons": {{"coupon": {{"code": "{code}", "discount_value": "{value}", '
        '"item_status": {"code": 700, "message": "Coupon processing successful", '
        '"success": "true"}}}}}'
    )


async def month_partitions(conn: asyncpg.Connection, start: float) -> int:
    """When the ledger is partitioned by month (redemption-service migration 0005), the
    partitions of the seeded months, named and bounded as its upkeep job makes them (it
    would have made each of them ahead of time); how many were made."""
    kind = await conn.fetchval(
        "SELECT relkind::text FROM pg_class WHERE oid = 'redemptions'::regclass"
    )
    if kind != "p":
        return 0
    made = 0
    month = datetime.fromtimestamp(start, UTC).date().replace(day=1)
    while month <= datetime.now(UTC).date():
        following = (month + timedelta(days=32)).replace(day=1)
        name = f"redemptions_{month:%Y_%m}"
        if await conn.fetchval("SELECT to_regclass($1)", name) is None:
            await conn.execute(
                f"CREATE TABLE {name} PARTITION OF redemptions "
                f"FOR VALUES FROM ('{month} 00:00:00+00') TO ('{following} 00:00:00+00')"
            )
            made += 1
        month = following
    return made


async def seed_redemption(url: str, v: Volume, clock: Clock, rows: dict[str, int]) -> None:
    stream = redis_keys.event_stream("redemption")
    conn = await asyncpg.connect(url)
    try:
        await month_partitions(conn, clock.start)

        def ledger(i: int) -> str:
            code, group, customer, value = v.row(i)
            return f"{i + 1}\t{code}\t{group}\t{customer}\t1000.00\t{value}\tT{i}\t{clock.at(i)}\n"

        await copy_rows(
            conn,
            "redemptions",
            [
                "id",
                "code",
                "group_ref",
                "customer_id",
                "amount",
                "coupon_value",
                "transaction_number",
                "redeemed_at",
            ],
            v.redemptions,
            ledger,
            rows,
        )

        def event(i: int) -> str:
            code, group, customer, value = v.row(i)
            at = clock.at(i)
            payload = (
                f'{{"redemptionId": "{i + 1}", "code": "{code}", "group": "{group}", '
                f'"customerId": "{customer}", "amount": 1000.00, "couponValue": {value}, '
                f'"redeemedAt": "{clock.iso(at)}"}}'
            )
            return f"{i + 1}\t{stream}\tcoupon.redeemed\t{payload}\t{at}\t{at}\n"

        await copy_rows(
            conn,
            "outbox",
            ["id", "stream", "event_type", "payload", "created_at", "published_at"],
            v.redemptions,
            event,
            rows,
        )

        def key(n: int) -> str:
            i = n * STEP + 3  # every tenth redeem (a series coupon's) carried a key
            code, _, _, value = v.row(i)
            at = clock.at(i)
            return f"{SCOPE}\tseed-{i}\t{i:064x}\t200\t{_response(code, value)}\t{at}\t{at}\n"

        await copy_rows(
            conn,
            "idempotency_keys",
            ["scope", "key", "request_hash", "status", "body", "created_at", "completed_at"],
            len(range(3, v.redemptions, STEP)),
            key,
            rows,
        )
        await finish_tables(conn, ["redemptions", "outbox"])
        await conn.execute("VACUUM (ANALYZE) idempotency_keys")
    finally:
        await conn.close()


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def republish(redis: Redis, deadline_s: float) -> float:
    """Remove the owners' ready markers and wait (polling, with a deadline) until their
    republishers have published everything again; the seconds it took."""
    started = time.monotonic()
    await redis.delete(*[redis_keys.facts_ready(owner) for owner in OWNERS])
    while await redis.exists(*[redis_keys.facts_ready(owner) for owner in OWNERS]) < len(OWNERS):
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"facts not republished within {deadline_s:.0f} s")
        await asyncio.sleep(0.2)  # polling the markers the republishers set
    return time.monotonic() - started


async def seed(database_url: str, redis_url: str, volume: Volume) -> Seeded:
    """Seed the three services' databases of a stack whose tables are empty, then have the
    owners republish Redis from PostgreSQL."""
    rows: dict[str, int] = {}
    clock = Clock(volume.redemptions, time.time())
    started = time.monotonic()
    await seed_promotion(database(database_url, "promotion"), volume, rows)
    await seed_issuance(database(database_url, "issuance"), volume, clock, rows)
    await seed_redemption(database(database_url, "redemption"), volume, clock, rows)
    seconds = time.monotonic() - started
    redis: Redis = Redis.from_url(redis_url)
    try:
        before = await used_memory(redis)
        published = await republish(redis, 600 + volume.promotion_coupons / 1000)
        after = await used_memory(redis)
    finally:
        await redis.aclose()
    return Seeded(rows, seconds, published, before, after)
