"""Each signed identity is accepted once, by any replica of any service: its nonce is
recorded in Redis (``SET NX PX``) for as long as the header could still be accepted.

A header is accepted while its timestamp is within ``IDENTITY_MAX_AGE_S`` of the service's
clock, in the past or in the future, so a nonce is remembered for twice that age. The records
of the nonces of the requests that arrive in one event-loop turn go to Redis as one pipeline
(:mod:`coupon_core.autopipeline`).
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from coupon_core import redis_keys
from coupon_core.autopipeline import AutoPipeline


class NonceBook:
    def __init__(self, redis: Redis, *, max_age_s: float) -> None:
        self._pipe = AutoPipeline(redis)
        self._ttl_ms = math.ceil(2 * max_age_s * 1000)

    async def first_use(self, nonce: str) -> bool:
        """True the first time ``nonce`` is presented within its window, False after."""
        key = redis_keys.identity_nonce(nonce)
        return bool(await self._pipe.execute("SET", key, "1", "NX", "PX", self._ttl_ms))
