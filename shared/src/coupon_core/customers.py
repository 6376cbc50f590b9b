"""Customer identifiers: one normalisation for every service, and the Redis index that lets
the redemption service resolve a customer without calling the issuance service.

Owned and published by issuance-service (``customer:<identifier>:<value>`` -> customer id);
republished with its other facts when Redis lost its data.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from coupon_core import redis_keys
from coupon_core.redis_keys import CustomerIdentifier

IDENTIFIERS: tuple[CustomerIdentifier, ...] = ("id", "mobile", "email", "externalId")


def normalise(identifier: CustomerIdentifier, value: object) -> str | None:
    """The canonical form of an identifier; ``None`` for absent or empty (empty = absent)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if identifier == "email":
        return text.lower()
    return text


async def publish(
    redis: Redis, customer_id: str, identifiers: Mapping[CustomerIdentifier, str]
) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(redis_keys.customer_index("id", customer_id), customer_id)
        for identifier, value in identifiers.items():
            if identifier != "id" and value:
                pipe.set(redis_keys.customer_index(identifier, value), customer_id)
        await pipe.execute()


async def resolve(redis: Redis, identifier: CustomerIdentifier, value: object) -> str | None:
    """The customer id for a (not yet normalised) identifier value, or None if unknown."""
    normalised = normalise(identifier, value)
    if normalised is None:
        return None
    found = await redis.get(redis_keys.customer_index(identifier, normalised))
    if found is None:
        return None
    return found.decode() if isinstance(found, bytes) else str(found)
