"""The platform-wide coupon code registry: a code belongs to one series or promotion.

Reserved in Redis with SET NX before the owning service inserts the coupon (each service's
table also has a unique constraint on the code), released when the insert fails or the
coupon is deleted. Owners publish their codes again when Redis lost its data
(:func:`coupon_core.redis_keys.facts_ready`).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from coupon_core import redis_keys


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def reserve(redis: Redis, code: str, group: str) -> bool:
    """True if ``code`` is now owned by ``group`` (or already was)."""
    if await redis.set(redis_keys.code_owner(code), group, nx=True):
        return True
    owner = await redis.get(redis_keys.code_owner(code))
    return owner is not None and _text(owner) == group


async def reserve_many(redis: Redis, codes: Sequence[str], group: str) -> list[bool]:
    """Reserve a batch in one round trip (one per node on Redis Cluster: the pipeline is not
    transactional, so it may span slots); element i tells whether ``codes[i]`` is ours."""
    if len(codes) == 1:  # a single command costs the client far less than a pipeline
        return [bool(await redis.set(redis_keys.code_owner(codes[0]), group, nx=True))]
    async with redis.pipeline(transaction=False) as pipe:
        for code in codes:
            pipe.set(redis_keys.code_owner(code), group, nx=True)
        results = await pipe.execute()
    return [bool(r) for r in results]


async def release(redis: Redis, codes: Sequence[str], group: str) -> None:
    """Give codes back, but only those ``group`` still owns.

    Every code's key has its own hash tag, so the keys of a batch live in many slots: reads
    and deletes go through non-transactional pipelines (split per node on Redis Cluster),
    never a multi-key MGET or DEL, which a cluster refuses across slots.
    """
    if not codes:
        return
    keys = [redis_keys.code_owner(c) for c in codes]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.get(key)
        owners = await pipe.execute()
    mine = [k for k, o in zip(keys, owners, strict=True) if o is not None and _text(o) == group]
    if mine:
        async with redis.pipeline(transaction=False) as pipe:
            for key in mine:
                pipe.delete(key)
            await pipe.execute()


async def owner_of(redis: Redis, code: str) -> str | None:
    value = await redis.get(redis_keys.code_owner(code))
    return _text(value) if value is not None else None


async def owners_of(redis: Redis, codes: Sequence[str]) -> list[str | None]:
    """The owner of each code, in one round trip; a pipeline of single-key GETs, since
    the codes' keys lie in different slots of a cluster."""
    async with redis.pipeline(transaction=False) as pipe:
        for code in codes:
            pipe.get(redis_keys.code_owner(code))
        values = await pipe.execute()
    return [_text(v) if v is not None else None for v in values]
