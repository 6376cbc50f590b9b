"""The platform-wide coupon code registry: a code belongs to one series or promotion.

Claimed in Redis with SET NX before the owning service inserts the coupon (each service's
table also has a unique constraint on the code), released when the insert fails or the
coupon is deleted. Owners publish their codes again when Redis lost its data
(:func:`coupon_core.keyspace.facts_ready`).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from coupon_core import keyspace


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def claim(redis: Redis, code: str, group: str) -> bool:
    """True if ``code`` is now owned by ``group`` (or already was)."""
    if await redis.set(keyspace.code_owner(code), group, nx=True):
        return True
    owner = await redis.get(keyspace.code_owner(code))
    return owner is not None and _text(owner) == group


async def claim_many(redis: Redis, codes: Sequence[str], group: str) -> list[bool]:
    """Claim a batch in one round trip; element i tells whether ``codes[i]`` is ours."""
    async with redis.pipeline(transaction=False) as pipe:
        for code in codes:
            pipe.set(keyspace.code_owner(code), group, nx=True)
        results = await pipe.execute()
    return [bool(r) for r in results]


async def release(redis: Redis, codes: Sequence[str], group: str) -> None:
    """Give codes back, but only those ``group`` still owns."""
    if not codes:
        return
    owners = await redis.mget([keyspace.code_owner(c) for c in codes])
    mine = [c for c, o in zip(codes, owners, strict=True) if o is not None and _text(o) == group]
    if mine:
        await redis.delete(*[keyspace.code_owner(c) for c in mine])


async def owner_of(redis: Redis, code: str) -> str | None:
    value = await redis.get(keyspace.code_owner(code))
    return _text(value) if value is not None else None
