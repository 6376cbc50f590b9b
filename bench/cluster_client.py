"""The Redis client's own CPU per redeem: single Redis against a three-master Redis Cluster.

Every round runs, in this one process, ``--concurrency`` redeems at a time against each
store in turn (interleaved), each redeem issuing the Redis commands a real one does through
the same client code: the identity nonce (``SET NX PX``), the judge's two reads (code owner,
customer index and facts-ready markers; group and coupon facts) and the guard script, all
through :class:`~coupon_core.autopipeline.AutoPipeline`. It reports the CPU time of this
process per redeem (the client's cost; the servers run in their own processes) and the
cluster / single ratio. No result passes or fails.

    python -m bench.cluster_client [--redeems 4000] [--concurrency 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from coupon_core import redis_keys
from coupon_core.lifecycle import redis_from_url
from coupon_core.replay import NonceBook
from coupon_core.scripts import load_scripts
from coupon_dev.embedded import EmbeddedRedis
from coupon_dev.embedded_cluster import EmbeddedRedisCluster
from redemption_service.db.counters import Counters, Use
from redis.asyncio import Redis

LUA = Path(__file__).resolve().parents[1] / "redemption-service" / "lua"
GROUPS = 50


def _group(n: int) -> str:
    return redis_keys.group_ref(redis_keys.SERIES, n % GROUPS)


async def _prepare(redis: Redis) -> None:
    for n in range(GROUPS):
        group = _group(n)
        await redis.set(redis_keys.redemption_warm(group), "epoch")
        await redis.set(redis_keys.group_facts(group), "{}")
    for service in ("promotion", "issuance"):
        await redis.set(redis_keys.facts_ready(service), "1")


async def _redeem(counters: Counters, nonces: NonceBook, n: int) -> None:
    group, code, customer = _group(n), f"CODE-{n}", f"cust-{n % 997}"
    await nonces.first_use(uuid.uuid4().hex)
    await counters.pipe.get_many(
        [
            redis_keys.code_owner(code),
            redis_keys.customer_index("mobile", customer),
            redis_keys.facts_ready("promotion"),
            redis_keys.facts_ready("issuance"),
        ]
    )
    await counters.pipe.get_many(
        [redis_keys.group_facts(group), redis_keys.coupon_facts(group, code)]
    )
    await counters.guard(
        "all", group, total_limit=None, per_customer_limit=None, uses=[Use(code, customer)]
    )


async def _round(redis: Redis, redeems: int, concurrency: int) -> float:
    """CPU µs of this process per redeem."""
    counters = Counters(redis, load_scripts(redis, LUA))
    nonces = NonceBook(redis, max_age_s=60)
    queue = iter(range(redeems))

    async def worker() -> None:
        for n in queue:
            await _redeem(counters, nonces, n)

    await _redeem(counters, nonces, 0)  # connections open, scripts loaded
    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / redeems * 1e6


async def _measure(urls: dict[str, str], redeems: int, concurrency: int, rounds: int) -> None:
    clients = {name: redis_from_url(url) for name, url in urls.items()}
    try:
        for client in clients.values():
            await _prepare(client)  # type: ignore[arg-type]
        results: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(rounds):
            for name, client in clients.items():
                results[name].append(await _round(client, redeems, concurrency))  # type: ignore[arg-type]
        for name, values in results.items():
            print(
                f"{name}: {statistics.median(values):.0f} µs CPU per redeem "
                f"(rounds: {', '.join(f'{v:.0f}' for v in values)})"
            )
        single, cluster = (statistics.median(results[n]) for n in ("single", "cluster"))
        print(f"cluster / single CPU per redeem: {cluster / single:.2f}")
    finally:
        for client in clients.values():
            await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redeems", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-client-") as tmp:
        single = EmbeddedRedis(Path(tmp) / "single")
        cluster = EmbeddedRedisCluster(Path(tmp) / "cluster")
        single.start()
        cluster.start()
        try:
            urls = {"single": single.url(), "cluster": cluster.url()}
            asyncio.run(_measure(urls, options.redeems, options.concurrency, options.rounds))
        finally:
            cluster.stop()
            single.stop()


if __name__ == "__main__":
    main()
