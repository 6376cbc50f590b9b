"""The redemption counters in Redis: the guard, the give-back and the rebuild.

Every key of one call shares its limit group's hash tag, so each call is one script on one
slot (see docs/redemption.md for the design).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from coupon_core import keyspace
from coupon_core.autopipeline import AutoPipeline
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

Mode = Literal["all", "partial", "check"]
COLD = -1
UNLIMITED = -1


class Cold(Exception):
    """The group's counters are not rebuilt from the ledger yet."""

    def __init__(self, group: str) -> None:
        super().__init__(group)
        self.group = group


@dataclass(frozen=True, slots=True)
class Use:
    """One use of one coupon by one customer, with the limits the coupon carries."""

    code: str
    customer_id: str
    usage_limit: int | None = None
    per_customer_limit: int | None = None


def _limit(value: int | None) -> int:
    return UNLIMITED if value is None else value


def use_keys(group: str, code: str, customer_id: str) -> tuple[str, str, str, str]:
    """Every counter one use takes: coupon, coupon-by-customer, group total, group-by-customer."""
    return (
        keyspace.redeemed_coupon(group, code),
        keyspace.redeemed_coupon_by_customer(group, code, customer_id),
        keyspace.redeemed_total(group),
        keyspace.redeemed_by_customer(group, customer_id),
    )


def expected_counters(group: str, live: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Counter values implied by the ledger's live uses ``(code, customer_id, count)``."""
    totals: Counter[str] = Counter()
    for code, customer_id, count in live:
        for key in use_keys(group, code, customer_id):
            totals[key] += count
    return dict(totals)


class Counters:
    def __init__(self, redis: Redis, scripts: dict[str, AsyncScript]) -> None:
        self.redis = redis
        # The guard and the redeem's lookups: concurrent redeems share round trips.
        self.pipe = AutoPipeline(redis)
        self._guard = scripts["guard"]
        self._release = scripts["release"]
        self._rebuild = scripts["rebuild"]

    async def guard(
        self,
        mode: Mode,
        group: str,
        *,
        total_limit: int | None,
        per_customer_limit: int | None,
        uses: Sequence[Use],
    ) -> tuple[list[int], str]:
        """Item statuses (700 ok, 711, 714, 723) and the epoch of the counters (to give back
        with :meth:`release`); in "all" mode nothing is taken unless every use passes.
        Raises :class:`Cold` when the group must be rebuilt first."""
        keys = [keyspace.redemption_warm(group), keyspace.redeemed_total(group)]
        args: list[str | int] = [mode, _limit(total_limit), _limit(per_customer_limit)]
        for use in uses:
            keys.append(keyspace.redeemed_coupon(group, use.code))
            keys.append(keyspace.redeemed_coupon_by_customer(group, use.code, use.customer_id))
            keys.append(keyspace.redeemed_by_customer(group, use.customer_id))
            args.extend((_limit(use.usage_limit), _limit(use.per_customer_limit)))
        result = await self.pipe.script(self._guard, keys, args)
        if result[0] == COLD:
            raise Cold(group)
        epoch = result[-1]
        return [int(x) for x in result[:-1]], (
            epoch.decode() if isinstance(epoch, bytes) else str(epoch)
        )

    async def release(
        self, group: str, uses: Iterable[tuple[str, str]], *, epoch: str | None = None
    ) -> None:
        """Give back what :meth:`guard` took for ``(code, customer_id)`` uses. With the
        ``epoch`` the guard returned, nothing is given back to counters rebuilt since."""
        keys = [keyspace.redemption_warm(group)]
        for code, customer_id in uses:
            keys.extend(use_keys(group, code, customer_id))
        if len(keys) > 1:
            await self._release(keys=keys, args=[epoch or ""])

    async def current(self, group: str) -> tuple[bool, dict[str, int]]:
        """Whether the group is warm, and every redemption counter it has in Redis."""
        warm_key = keyspace.redemption_warm(group)
        pattern = keyspace.group_keys_pattern(group, "r")
        names = [
            k.decode() if isinstance(k, bytes) else str(k)
            async for k in self.redis.scan_iter(match=pattern, count=1000)
        ]
        names = [n for n in names if n != warm_key]
        values = await self.redis.mget(names) if names else []
        warm = bool(await self.redis.exists(warm_key))
        return warm, {
            name: int(value) for name, value in zip(names, values, strict=True) if value is not None
        }

    async def rebuild(
        self, group: str, expected: dict[str, int], *, retired: Collection[str] = ()
    ) -> int:
        """Set the group's counters to ``expected`` and mark it warm, in one script; returns
        the drift (sum of absolute differences) it repaired. Counters named in ``retired``
        (of coupons whose owner retired them) are deleted without counting as drift."""
        _, present = await self.current(group)
        drift = sum(
            abs(expected.get(k, 0) - present.get(k, 0))
            for k in expected.keys() | present
            if k not in retired
        )
        stale = [k for k in present if k not in expected]
        names = list(expected)
        keys = [keyspace.redemption_warm(group), *names, *stale]
        await self._rebuild(
            keys=keys, args=[len(names), *(expected[n] for n in names), uuid.uuid4().hex]
        )
        return drift

    async def forget(self, group: str) -> int:
        """Delete every redemption counter of ``group`` and its warm marker (one slot, so
        one ``UNLINK``); how many keys there were."""
        pattern = keyspace.group_keys_pattern(group, "r")
        names = [k async for k in self.redis.scan_iter(match=pattern, count=1000)]
        return int(await self.redis.unlink(*names)) if names else 0
