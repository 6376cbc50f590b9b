"""What the signed identity costs per request, measured in one run.

- sign: the gateway's HMAC over the request and the SHA-256 of its body;
- verify: a service's check of the same (the nonce claim aside);
- claim: a service's ``SET NX PX`` of the nonce in Redis, one request at a time and with
  ``--concurrency`` requests in flight, whose claims go out together (auto-pipelining).

Sign and verify are CPU only, timed per call for bodies of 0 B (a GET), a redeem's ~200 B,
64 KiB and the 1 MiB maximum. The claim is timed in wall time and in this process's CPU
time per claim, against a Redis on loopback (``--redis-url``, else an embedded one).

    .venv/bin/python -m bench.identity [--iterations 20000] [--claims 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from coupon_core.identity import Principal, sign_identity, verify_identity
from coupon_core.lifecycle import redis_from_url
from coupon_core.replay import NonceBook
from coupon_dev.embedded import EmbeddedRedis
from redis.asyncio import Redis

SECRET = b"bench-identity-secret-0123456789"
PRINCIPAL = Principal("api_token", "1", "bench")
PATH = "/v1.1/coupon/redeem"
REDEEM = (
    b'{"root":{"coupon":[{"code":"HOT-1","customer":{"id":"42"},'
    b'"transaction":[{"number":"B-1","amount":"1000"}]}]}}'
)
BODIES = {
    "0 B": b"",
    f"{len(REDEEM)} B (a redeem)": REDEEM,
    "64 KiB": b"x" * 65536,
    "1 MiB": b"x" * 1024 * 1024,
}


def per_call_us(run: Callable[[], object], iterations: int) -> float:
    for _ in range(min(iterations, 500)):  # warm-up, untimed
        run()
    started = time.perf_counter()
    for _ in range(iterations):
        run()
    return (time.perf_counter() - started) / iterations * 1e6


def sign_and_verify(iterations: int) -> list[str]:
    lines = ["| body | sign µs | verify µs | sign + verify µs |", "|---|---|---|---|"]
    for name, body in BODIES.items():
        n = iterations if len(body) < 65536 else max(1, iterations // 100)

        def sign(body: bytes = body) -> str:
            return sign_identity(
                PRINCIPAL, method="POST", path=PATH, query="", body=body, secret=SECRET
            )

        header = sign()

        def verify(body: bytes = body, header: str = header) -> object:
            return verify_identity(
                header,
                method="POST",
                path=PATH,
                query="",
                body=body,
                secret=SECRET,
                max_age_s=30,
            )

        signing, verifying = per_call_us(sign, n), per_call_us(verify, n)
        lines.append(f"| {name} | {signing:.1f} | {verifying:.1f} | {signing + verifying:.1f} |")
    return lines


async def claim_all(book: NonceBook, run: str, claims: int, in_flight: int) -> None:
    """``claims`` fresh nonces claimed by ``in_flight`` workers at once."""
    remaining = iter(range(claims))

    async def worker() -> None:
        for i in remaining:
            if not await book.first_use(f"bench-{run}-{i:08d}-nonce"):
                raise RuntimeError("a fresh nonce was refused")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


async def claims(redis_url: str, claims: int, concurrency: int) -> list[str]:
    redis: Redis = redis_from_url(redis_url)  # type: ignore[assignment]
    book = NonceBook(redis, max_age_s=30)
    lines = [
        "| nonce claims in flight | wall µs per claim | CPU µs per claim (this process) |",
        "|---|---|---|",
    ]
    try:
        for in_flight in (1, concurrency):
            wall, cpu = time.perf_counter(), time.process_time()
            await claim_all(book, f"{in_flight}-{os.getpid()}", claims, in_flight)
            wall_us = (time.perf_counter() - wall) / claims * 1e6
            cpu_us = (time.process_time() - cpu) / claims * 1e6
            lines.append(f"| {in_flight} | {wall_us:.1f} | {cpu_us:.1f} |")
    finally:
        await redis.aclose()
    return lines


def run(args: argparse.Namespace, redis_url: str) -> None:
    print(f"sign and verify, {args.iterations} calls each (1/100 of that for 64 KiB and up):")
    print("\n".join(sign_and_verify(args.iterations)))
    print()
    print(f"nonce claims in Redis ({redis_url.rpartition('@')[2]}), {args.claims} per row:")
    print("\n".join(asyncio.run(claims(redis_url, args.claims, args.concurrency))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--claims", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args()
    if not (
        100 <= args.iterations <= 200_000
        and 100 <= args.claims <= 50_000
        and 1 <= args.concurrency <= 256
    ):
        parser.error("keep it bounded: iterations 100..200000, claims 100..50000")
    if args.redis_url:
        run(args, args.redis_url)
        return
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis")
        redis.start()
        try:
            run(args, redis.url())
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
