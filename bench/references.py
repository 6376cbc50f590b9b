"""Reference redeems for ``make bench`` (issue 17, part 3): what the real redeem is measured
against, each an aiohttp handler behind a gateway like the stack's, under the same load.

* ``?design=limit``, **the limit**: parse the seed 003 request, one Lua check-and-increment
  on one Redis key, one ledger row inserted in an autocommitted statement, the seed's
  answer. The least any redeem can do.
* ``?design=peer``, **the peers' design** (Sylius, Saleor, WooCommerce, Magento): in one
  transaction ``SELECT ... FOR UPDATE`` of the coupon row, the usage check,
  ``UPDATE used = used + 1``, the order-coupon row, commit. On a hot coupon every redeem
  waits for the previous one's commit.

Neither judges anything else (no validity, customer or group limits, idempotency, outbox).

    python -m bench.references      # serve: PORT, DATABASE_URL, REDIS_URL from the env
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import orjson
from aiohttp import web
from coupon_core.web import new_event_loop
from coupon_dev.processes import Process
from coupon_dev.stack import Stack, with_database
from redis.asyncio import Redis

from bench.cases import AUTH, SPREAD_LUA, Case, _redeem_json

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_references"
CODES = [f"REF{i:04d}" for i in range(500)]
POOL_SIZE = 10  # DB_POOL_MAX_SIZE of the services (coupon_core.settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
GUARD = web.AppKey("guard", str)

SCHEMA = """
CREATE TABLE IF NOT EXISTS ref_coupon (
    id bigserial PRIMARY KEY, code text UNIQUE NOT NULL, max_uses bigint NOT NULL,
    used bigint NOT NULL DEFAULT 0, value numeric NOT NULL DEFAULT 10);
CREATE TABLE IF NOT EXISTS ref_order_coupon (
    id bigserial PRIMARY KEY, coupon_id bigint NOT NULL, customer text NOT NULL,
    number text NOT NULL, amount numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ref_ledger (
    id bigserial PRIMARY KEY, code text NOT NULL, customer text NOT NULL, number text NOT NULL,
    amount numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""
# Check and take one use of the coupon: its count goes up unless past the limit.
GUARD_LUA = """
local used = redis.call('INCR', KEYS[1])
if used > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return -1
end
return used
"""
MAX_USES = 10**12
STATUS_OK = {"success": "true", "code": 200, "message": "Success"}
REDEEMED = {"success": "true", "code": 700, "message": "Coupon processing successful"}
LIMIT_REACHED = {"success": "false", "code": 713, "message": "Coupon redemption limit exceeded"}


def _parse(raw: bytes) -> tuple[str, str, str, str]:
    """Code, customer, transaction number and amount of the seed 003 request."""
    coupon = orjson.loads(raw)["root"]["coupon"][0]
    customer = coupon.get("customer", {})
    ident = str(customer.get("id") or customer.get("mobile") or customer.get("email") or "")
    transaction = (coupon.get("transaction") or [{}])[0]
    return coupon["code"], ident, str(transaction.get("number", "")), transaction["amount"]


def _answer(code: str, customer: str, number: str, amount: str, ledger_id: int | None) -> bytes:
    """The seed 003 response."""
    coupon = {
        "customer": {"id": customer},
        "redemption_id": str(ledger_id or ""),
        "code": code,
        "discount_code": "",
        "series_code": "",
        "series_info": [],
        "is_absolute": "true",
        "coupon_value": "10",
        "transaction": {"amount": f"{float(amount):.2f}", "number": number},
        "side_effects": [],
        "item_status": REDEEMED if ledger_id is not None else LIMIT_REACHED,
    }
    return orjson.dumps({"response": {"status": STATUS_OK, "coupons": {"coupon": coupon}}})


async def limit(request: web.Request) -> web.Response:
    code, customer, number, amount = _parse(await request.read())
    used = await request.app[REDIS].evalsha(request.app[GUARD], 1, "{ref}:used:" + code, MAX_USES)
    ledger_id = None
    if used >= 0:
        ledger_id = await request.app[POOL].fetchval(
            "INSERT INTO ref_ledger (code, customer, number, amount) VALUES ($1, $2, $3, $4) "
            "RETURNING id",
            code,
            customer,
            number,
            amount,
        )
    return web.Response(
        body=_answer(code, customer, number, amount, ledger_id), content_type="application/json"
    )


async def peer(request: web.Request) -> web.Response:
    code, customer, number, amount = _parse(await request.read())
    ledger_id = None
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT id, used, max_uses FROM ref_coupon WHERE code = $1 FOR UPDATE", code
        )
        if row is not None and row["used"] < row["max_uses"]:
            await conn.execute("UPDATE ref_coupon SET used = used + 1 WHERE id = $1", row["id"])
            ledger_id = await conn.fetchval(
                "INSERT INTO ref_order_coupon (coupon_id, customer, number, amount) "
                "VALUES ($1, $2, $3, $4) RETURNING id",
                row["id"],
                customer,
                number,
                amount,
            )
    return web.Response(
        body=_answer(code, customer, number, amount, ledger_id), content_type="application/json"
    )


async def redeem(request: web.Request) -> web.Response:
    return await (peer if request.query.get("design") == "peer" else limit)(request)


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(database_url: str, redis_url: str) -> web.Application:
    app = web.Application()

    async def stores(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(database_url, min_size=2, max_size=POOL_SIZE)
        async with pool.acquire() as conn:
            await conn.execute(SCHEMA)
            await conn.executemany(
                "INSERT INTO ref_coupon (code, max_uses) VALUES ($1, $2) "
                "ON CONFLICT (code) DO NOTHING",
                [(c, MAX_USES) for c in CODES],
            )
        redis = Redis.from_url(redis_url)
        app[POOL], app[REDIS] = pool, redis
        app[GUARD] = await redis.script_load(GUARD_LUA)
        yield
        await redis.aclose()
        await pool.close()

    app.cleanup_ctx.append(stores)
    app.router.add_get("/readyz", ready)
    app.router.add_post("/v1.1/coupon/redeem", redeem)
    return app


def start_references(stack: Stack) -> tuple[Process, Process]:
    """The reference process on the stack's PostgreSQL (database ``bench_references``) and
    Redis, and a gateway like the stack's whose upstreams are all that process."""

    async def create_database() -> None:
        conn = await asyncpg.connect(stack.database_url)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    asyncio.run(create_database())
    port = stack.reserve_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": with_database(stack.database_url, DATABASE),
        "REDIS_URL": stack.redis_url,
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    reference = Process("references", "bench.references", port, env, stack.logs / "ref.log")
    reference.start()
    assert stack.gateway is not None
    gw_env = dict(stack.gateway.env)
    gw_port = stack.reserve_port()
    gw_env["PORT"] = str(gw_port)
    gw_env["REUSE_PORT"] = "true"
    for name in ("PROMOTION", "ISSUANCE", "REDEMPTION"):
        gw_env[f"{name}_UPSTREAMS"] = reference.url
    gateway = Process("gateway-ref", "gateway", gw_port, gw_env, stack.logs / "gateway-ref.log")
    gateway.start()
    reference.wait_ready()
    gateway.wait_ready()
    return reference, gateway


def reference_cases(reference: Process, gateway: Process) -> dict[str, Case]:
    """The limit on spread coupons, the peers' design on a hot coupon and on spread coupons,
    through ``gateway``, loaded as the real redeem is (:func:`bench.cases.service_cases`)."""
    assert reference.proc is not None
    assert gateway.proc is not None
    pids = {"gateway": gateway.proc.pid, "reference": reference.proc.pid}
    headers = {**AUTH, "Content-Type": "application/json"}
    customer = 1
    spread = SPREAD_LUA.format(
        codes=",".join(f'"{c}"' for c in CODES[1:]), template=_redeem_json("HOTCODE", customer)
    )
    url = gateway.url + "/v1.1/coupon/redeem?design="

    def case(name: str, design: str, code: str, lua: str) -> Case:
        body = _redeem_json(code, customer)
        return Case(name, url + design, pids, headers, "POST", body, lua)

    return {
        "limit redeem, spread": case("limit redeem, spread", "limit", CODES[1], spread),
        "peer design, hot coupon": case("peer design, hot coupon", "peer", CODES[0], ""),
        "peer design, spread": case("peer design, spread", "peer", CODES[1], spread),
    }


def main() -> None:
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    # The port is held by the stack that started this process (Stack.reserve_port).
    web.run_app(
        create_app(os.environ["DATABASE_URL"], os.environ["REDIS_URL"]),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        reuse_port=True,
        access_log=None,
        print=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
