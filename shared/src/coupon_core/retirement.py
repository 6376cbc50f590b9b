"""Retiring the Redis keys of dead coupons and limit groups (SPEC section 9).

An owning service retires a coupon once it has been expired (or its series or promotion
ended) for longer than its grace period, and a group once its end is that far behind it
and none of its coupons is left unretired. Retired keys answer as if they never existed:
a retired code is an unknown code to the redemption service.

A coupon's keys are its facts, its code registry entry (given back only if the group still
owns it, see :func:`coupon_core.registry.release`) and the redemption counters that can be
named without the ledger: the coupon's own, and the one of the customer it was issued to.
The redemption service's reconciler drops the coupon-by-customer counters of other
customers, since it keeps no counter of a coupon whose facts are gone. A group's keys are
everything under its hash tag, found with SCAN; they share one slot, so each chunk is one
``UNLINK`` on one node, also on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from coupon_core import keyspace, registry

# Keys per UNLINK: one command stays short on the server.
CHUNK = 1000


def coupon_keys(group: str, code: str, customer_id: str | None = None) -> list[str]:
    """The keys of one coupon that live under its group's hash tag."""
    keys = [keyspace.coupon_facts(group, code), keyspace.redeemed_coupon(group, code)]
    if customer_id is not None:
        keys.append(keyspace.redeemed_coupon_by_customer(group, code, customer_id))
    return keys


async def retire_coupons(
    redis: Redis, group: str, coupons: Sequence[tuple[str, str | None]]
) -> None:
    """Delete the keys of ``(code, issued-to customer id or None)`` coupons of ``group``."""
    if not coupons:
        return
    keys = [key for code, customer in coupons for key in coupon_keys(group, code, customer)]
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(keys), CHUNK):
            # A cluster pipeline has no queued ``unlink``; the raw command routes by the
            # first key's slot, which every key of the chunk shares.
            pipe.execute_command("UNLINK", *keys[start : start + CHUNK])
        await pipe.execute()
    await registry.release(redis, [code for code, _ in coupons], group)


async def retire_group(redis: Redis, group: str) -> int:
    """Delete every key under ``group``'s hash tag (facts, counters, warm markers); the
    number of keys deleted."""
    removed = 0
    chunk: list[bytes | str] = []
    async for key in redis.scan_iter(match=keyspace.group_all_keys_pattern(group), count=1000):
        chunk.append(key)
        if len(chunk) >= CHUNK:
            removed += int(await redis.unlink(*chunk))
            chunk = []
    if chunk:
        removed += int(await redis.unlink(*chunk))
    return removed
