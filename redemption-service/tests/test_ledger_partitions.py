"""The ledger at volume: monthly partitions, months created ahead, old months archived."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from coupon_core.keys import METRICS, PG_POOL
from coupon_core.lifecycle import open_postgres_pool
from coupon_core.migrations import apply_migrations
from coupon_core.scripts import load_scripts
from coupon_dev.testing.poll import until
from prometheus_client import CollectorRegistry
from redemption_service.app import LUA_DIR, MIGRATIONS_DIR, create_app
from redemption_service.db import ledger, partitions
from redemption_service.db.counters import Counters
from redemption_service.keys import COUNTERS
from redemption_service.settings import Settings
from redemption_service.usecases.rebuild import rebuild_group
from redemption_service.usecases.reverse import reverse
from redemption_service.workers.ledger_upkeep import LedgerMetrics, ledger_jobs
from redis.asyncio import Redis

from .conftest import coupon_in, post_signed, publish_customer, publish_group, redeem_body

REDEEM = "/v1.1/coupon/redeem"
SERVICE = "redemption-service"


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


async def this_month(conn: asyncpg.Connection | asyncpg.Pool) -> date:
    found: date = await conn.fetchval("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date")
    return found


async def attached(conn: asyncpg.Connection | asyncpg.Pool) -> set[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'redemptions'::regclass"
    )
    return {r["relname"] for r in rows}


def name(month: date) -> str:
    return f"redemptions_{month:%Y_%m}"


async def migrated(database_url: str, upto: int | None = None, *, tmp: Path) -> None:
    """Apply the service's migrations (only those numbered up to ``upto`` when given)."""
    directory = tmp / f"migrations_{upto}"
    directory.mkdir(exist_ok=True)
    for path in sorted(MIGRATIONS_DIR.iterdir()):
        if upto is None or int(path.name[:4]) <= upto:
            shutil.copy(path, directory / path.name)
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, directory, service=SERVICE)
    finally:
        await conn.close()


def job(pool: asyncpg.Pool, settings: Settings, which: str, metrics: LedgerMetrics) -> Any:
    return next(j for j in ledger_jobs(pool, settings, metrics) if j.name == which)


async def test_partitions_exist_after_migration_and_rows_land_in_their_month(
    database_url: str, tmp_path: Path
) -> None:
    await migrated(database_url, tmp=tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        month = await this_month(conn)
        found = await attached(conn)
        for ahead in range(4):  # the current month and three ahead
            assert name(add_months(month, ahead)) in found
        assert "redemptions_default" in found
        assert (
            await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'redemptions'")
            == "p"
        )
        keys, ids = await ledger.lock_and_reserve(conn, ["S:1"], 1)
        row = ledger.NewRedemption(ids[0], "A1", "S:1", "c-1", 50, 5, "", [])  # type: ignore[arg-type]
        assert await ledger.write(conn, [row], (), keys)
        where = await conn.fetchval(
            "SELECT tableoid::regclass::text FROM redemptions WHERE id = $1", ids[0]
        )
        assert where == name(month)
        # A row of a month with no partition of its own lands in the default partition.
        await conn.execute(
            "INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value, "
            "redeemed_at) VALUES ('A2', 'S:1', 'c-1', 1, 1, '2001-02-03 04:05+00')"
        )
        assert (
            await conn.fetchval(
                "SELECT tableoid::regclass::text FROM redemptions WHERE code = 'A2'"
            )
            == "redemptions_default"
        )
    finally:
        await conn.close()


async def test_migration_keeps_existing_rows_and_the_sequence_continues(
    database_url: str, tmp_path: Path
) -> None:
    await migrated(database_url, upto=4, tmp=tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        month = await this_month(conn)
        old = add_months(month, -14)
        await conn.execute(
            "INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value, "
            "redeemed_at, reversed_at, reversal_reason) "
            "SELECT 'M' || n, 'S:9', 'c-' || (n % 3), n, 1, "
            "  CASE WHEN n % 2 = 0 THEN $1::date::timestamptz ELSE now() END, "
            "  CASE WHEN n % 5 = 0 THEN now() END, CASE WHEN n % 5 = 0 THEN 'x' END "
            "FROM generate_series(1, 40) AS n",
            old,
        )
        before = [dict(r) for r in await conn.fetch("SELECT * FROM redemptions ORDER BY id")]
        top = max(r["id"] for r in before)
    finally:
        await conn.close()
    await migrated(database_url, tmp=tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        after = [dict(r) for r in await conn.fetch("SELECT * FROM redemptions ORDER BY id")]
        assert after == before
        assert name(old) in await attached(conn)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM redemptions WHERE tableoid = $1::regclass", name(old)
            )
            == 20
        )
        assert await conn.fetchval("SELECT count(*) FROM redemptions_default") == 0
        keys, ids = await ledger.lock_and_reserve(conn, ["S:9"], 2)
        assert min(ids) > top
        rows = [ledger.NewRedemption(i, "N", "S:9", "c-1", 1, 1, "", []) for i in ids]  # type: ignore[arg-type]
        assert await ledger.write(conn, rows, (), keys)
        owner = await conn.fetchval(
            "SELECT d.refobjid::regclass::text FROM pg_depend d "
            "WHERE d.objid = 'redemptions_id_seq'::regclass AND d.deptype = 'a'"
        )
        assert owner == "redemptions"
        assert await conn.fetchval("SELECT to_regclass('redemptions_unpartitioned')") is None
    finally:
        await conn.close()


async def test_partition_job_creates_months_ahead_and_is_idempotent(
    database_url: str, service_env: dict[str, Any], tmp_path: Path
) -> None:
    await migrated(database_url, tmp=tmp_path)
    settings = Settings(**service_env, ledger_partitions_ahead=6)
    metrics = LedgerMetrics(CollectorRegistry())
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        month = await this_month(pool)
        # A row of month +6 arrived before its partition: it waits in the default partition.
        sixth = add_months(month, 6)
        await pool.execute(
            "INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value, "
            "redeemed_at) VALUES ('D1', 'S:1', 'c-1', 1, 1, $1::date::timestamptz + '1 day')",
            sixth,
        )
        create = job(pool, settings, "ledger_partitions", metrics)
        assert create.lag is not None
        await create.lag()
        assert metrics.default_rows._value.get() == 1
        assert await create.step(100) == 3  # months +4, +5, +6
        assert await create.step(100) == 0
        found = await pool.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'redemptions'::regclass"
        )
        names = {r["relname"] for r in found}
        assert {name(add_months(month, n)) for n in range(7)} <= names
        assert await pool.fetchval(
            "SELECT tableoid::regclass::text FROM redemptions WHERE code = 'D1'"
        ) == name(sixth)
        await create.lag()
        assert metrics.default_rows._value.get() == 0
    finally:
        await pool.close()


# Each query the ledger runs by id or by group, with literal arguments to explain it with.
EXPLAINED = {
    "lookup": (ledger.GET_BY_ID, "1"),
    "lookup for update": (ledger.GET_BY_ID + " FOR UPDATE", "1"),
    "reversal": (ledger.REVERSE, "1, 'x', now()"),
    "live uses": (ledger.LIVE_USES, "'S:1'"),
}


@pytest.mark.parametrize("query", sorted(EXPLAINED))
async def test_lookup_and_reversal_use_an_index_on_every_partition(
    database_url: str, tmp_path: Path, query: str
) -> None:
    await migrated(database_url, tmp=tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        partitions_ = await attached(conn)
        sql, args = EXPLAINED[query]
        # Tables this small are cheaper to read whole: forbid that, to see whether an
        # index serves the query on each partition, as it must at volume.
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE q AS {sql}")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE q({args})"))
        assert "Seq Scan" not in plan, plan
        if query in ("lookup", "lookup for update"):
            for partition in partitions_:
                assert f"Index Scan using {partition}_pkey on {partition}" in plan, plan
    finally:
        await conn.close()


@pytest.fixture
def settings(service_env: dict[str, Any]) -> Settings:
    return Settings(**service_env, reconcile_interval_s=0, ledger_online_months=2)


GROUP = "S:70"


async def counters_of(redis: Redis, app: web.Application) -> dict[str, int]:
    _, present = await app[COUNTERS].current(GROUP)
    return present


async def test_archiving_a_month_keeps_every_counter_and_refuses_its_reversals(
    aiohttp_server: Any, settings: Settings, redis: Redis, http: aiohttp.ClientSession
) -> None:
    app = create_app(settings)
    base = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    await publish_group(
        redis, GROUP, ["K1", "K2"], coupon={"usage_limit": 10}, per_customer_limit=3
    )
    for n in range(3):
        await publish_customer(redis, f"c-{n}", mobile=f"20{n}")

    async def redeem(code: str, mobile: str) -> int:
        status, body = await post_signed(http, base, REDEEM, redeem_body(coupon_in(code, mobile)))
        assert status == 200, body
        found: int = body["response"]["coupons"]["coupon"]["item_status"]["code"]
        return found

    uses = [("K1", "200"), ("K1", "200"), ("K1", "201"), ("K2", "200"), ("K2", "202")]
    assert [await redeem(code, mobile) for code, mobile in uses] == [700] * 5
    pool: asyncpg.Pool = app[PG_POOL]
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM redemptions ORDER BY id")]
    month = await this_month(pool)
    old = add_months(month, -5)
    async with pool.acquire() as conn:
        await partitions.create_month(conn, old, lock_timeout_ms=1000)
    # Four of the five move to a month past LEDGER_ONLINE_MONTHS; one of them was reversed.
    reverse = f"/v2/coupon/redemptions/{ids[1]}/reverse"
    assert (await post_signed(http, base, reverse, {}))[0] == 200
    await pool.execute(
        "UPDATE redemptions SET redeemed_at = $2::date::timestamptz + '3 days' "
        "WHERE id = ANY($1::bigint[])",
        ids[:4],
        old,
    )
    # Past the cutoff but still attached: already refused, with nothing changed.
    before = await counters_of(redis, app)
    status, body = await post_signed(http, base, f"/v2/coupon/redemptions/{ids[0]}/reverse", {})
    assert status == 410, body
    assert body["errors"][0]["code"] == 410
    assert "archived" in body["errors"][0]["message"]
    assert await counters_of(redis, app) == before
    assert await pool.fetchval("SELECT reversed_at FROM redemptions WHERE id = $1", ids[0]) is None

    archive = job(pool, settings, "ledger_archive", LedgerMetrics(CollectorRegistry()))
    assert archive.lag is not None
    assert await archive.lag() > 0
    assert await archive.step(10) == 1
    assert await archive.step(10) == 0
    assert await archive.lag() == 0

    table = f"redemptions_archive_{old:%Y_%m}"
    assert await pool.fetchval("SELECT NOT relispartition FROM pg_class WHERE relname = $1", table)
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 4
    assert await pool.fetchval("SELECT count(*) FROM redemptions") == 1
    # Every counter rebuilt from the ledger after the archive equals what it was before.
    assert await rebuild_group(pool, app[COUNTERS], GROUP, force=True) == 0
    assert await counters_of(redis, app) == before
    await redis.delete(*(await counters_of(redis, app)))
    await rebuild_group(pool, app[COUNTERS], GROUP, force=True)
    assert await counters_of(redis, app) == before
    async with pool.acquire() as conn:
        assert GROUP in await ledger.groups(conn)
    # The per-customer limit (3) still counts the archived uses: c-0 has two live ones.
    assert await redeem("K2", "200") == 700
    assert await redeem("K1", "200") == 723

    # A reversal of an archived redemption is refused, and changes nothing.
    before = await counters_of(redis, app)
    status, body = await post_signed(http, base, f"/v2/coupon/redemptions/{ids[2]}/reverse", {})
    assert status == 410, body
    assert "archived" in body["errors"][0]["message"]
    assert await counters_of(redis, app) == before
    assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE reversed_at IS NOT NULL") == 1
    # An id that never existed is still simply not found.
    status, body = await post_signed(http, base, "/v2/coupon/redemptions/999999/reverse", {})
    assert status == 404, body


async def test_the_service_keeps_months_ahead_and_archives_on_its_own(
    aiohttp_client: Any, service_env: dict[str, Any], redis: Redis
) -> None:
    settings = Settings(
        **service_env,
        reconcile_interval_s=0,
        retention_interval_s=0.05,
        ledger_partitions_ahead=5,
        ledger_online_months=1,
    )
    app = (await aiohttp_client(create_app(settings))).app
    pool: asyncpg.Pool = app[PG_POOL]
    month = await this_month(pool)
    old = add_months(month, -3)
    async with pool.acquire() as conn:
        await partitions.create_month(conn, old, lock_timeout_ms=1000)
    await pool.execute(
        "INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value, "
        "redeemed_at) VALUES ('Z1', 'S:80', 'c-1', 1, 1, $1::date::timestamptz)",
        old,
    )

    async def done() -> bool:
        names = await attached(pool)
        return name(add_months(month, 5)) in names and name(old) not in names

    await until(done, "the retention pass")
    assert await pool.fetchval("SELECT uses FROM redemption_rollups WHERE code = 'Z1'") == 1
    metrics = app[METRICS].render().decode()
    assert 'retention_removed_total{task="ledger_partitions"} 2.0' in metrics
    assert 'retention_removed_total{task="ledger_archive"} 1.0' in metrics
    assert "ledger_default_partition_rows 0.0" in metrics


async def test_archive_waits_for_a_reversal_in_flight_and_gives_up_with_nothing_changed(
    database_url: str, service_env: dict[str, Any], tmp_path: Path
) -> None:
    await migrated(database_url, tmp=tmp_path)
    settings = Settings(**service_env, ledger_online_months=1, ledger_lock_timeout_ms=50)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    try:
        old = add_months(await this_month(pool), -2)
        async with pool.acquire() as conn:
            await partitions.create_month(conn, old, lock_timeout_ms=1000)
        await pool.execute(
            "INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value, "
            "redeemed_at) VALUES ('W1', 'S:90', 'c-1', 1, 1, $1::date::timestamptz)",
            old,
        )
        row = await pool.fetchrow("SELECT id, redeemed_at FROM redemptions WHERE code = 'W1'")
        assert row is not None
        archive = job(pool, settings, "ledger_archive", LedgerMetrics(CollectorRegistry()))
        async with pool.acquire() as reversal, reversal.transaction():
            # A reversal that passed its cutoff check before the month fell past it.
            await reversal.execute(ledger.REVERSE, row["id"], "late", row["redeemed_at"])
            assert await archive.step(10) == 0  # the month's lock was not granted in time
            assert name(old) in await attached(pool)
            assert await pool.fetchval("SELECT count(*) FROM redemption_rollups") == 0
            assert await pool.fetchval("SELECT count(*) FROM redemption_archives") == 0
        # Committed: the next pass rolls the month up with the reversal in it.
        assert await archive.step(10) == 1
        assert name(old) not in await attached(pool)
        assert await pool.fetchval("SELECT count(*) FROM redemption_rollups") == 0
        assert await pool.fetchval("SELECT live_count FROM redemption_archives") == 0
    finally:
        await pool.close()


async def test_a_reversal_that_loses_a_deadlock_is_retried_not_failed(
    database_url: str, service_env: dict[str, Any], redis: Redis, tmp_path: Path
) -> None:
    """A deadlock victim (the archive of its month can make one) retries the reversal."""
    await migrated(database_url, tmp=tmp_path)
    pool = await open_postgres_pool(Settings(**service_env), min_size=1, max_size=4)
    other = await asyncpg.connect(database_url)
    try:
        rid = await pool.fetchval(
            "INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value) "
            "VALUES ('D1', 'S:91', 'c-1', 1, 1) RETURNING id"
        )
        # The other side detects deadlocks later, so the reversal is the victim.
        await other.execute("SET deadlock_timeout = '10s'")
        held = other.transaction()
        await held.start()
        # The reversal's event (written after it locked and updated the row) waits for this.
        await other.execute("LOCK TABLE outbox IN SHARE MODE")

        async def crossing() -> Any:
            await until(
                lambda: pool.fetchval(
                    "SELECT count(*) > 0 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'outbox' AND NOT l.granted"
                ),
                "the reversal waiting for the outbox",
            )
            # Waits for the reversal's row lock: a deadlock, the reversal its victim.
            seen = await other.fetchval(
                "SELECT reversed_at FROM redemptions WHERE id = $1 FOR UPDATE", rid
            )
            await held.commit()
            return seen

        crossing_task = asyncio.ensure_future(crossing())
        counters = Counters(redis, load_scripts(redis, LUA_DIR))
        async with reverse(pool, counters, rid, reason="late") as reversal:
            await reversal.commit(None)
        seen_by_the_other_side = await crossing_task

        # The other side got the row unreversed: the reversal's first attempt was rolled
        # back, and it reversed the row all the same, so it was attempted again.
        assert seen_by_the_other_side is None
        assert reversal.redemption.reversed_at is not None
        assert await pool.fetchval("SELECT reversal_reason FROM redemptions") == "late"
    finally:
        await other.close()
        await pool.close()
