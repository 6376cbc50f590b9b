"""The redemption counters in Redis: the guard, the give-back and the rebuild.

Every key of one call shares its limit group's hash tag, so each call is one script on one
slot (see docs/redemption.md for the design).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson
from coupon_core import redis_keys
from coupon_core.autopipeline import AutoPipeline
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

Mode = Literal["all", "partial", "check"]
COLD = -1
UNLIMITED = -1
# What the guard reports per item taken: the counters its use made reach their limit.
REACHED_COUPON = 1  # the coupon's usage counter
REACHED_TOTAL = 2  # the group's total
# Counters read per MGET.
READ_CHUNK = 1000
# Counters written per rebuild_chunk.lua call (or deleted per UNLINK) by a rebuild too
# large for one script: each a short command, so neither Redis nor the event loop is held
# for long.
WRITE_CHUNK = 5000


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
        redis_keys.redeemed_coupon(group, code),
        redis_keys.redeemed_coupon_by_customer(group, code, customer_id),
        redis_keys.redeemed_total(group),
        redis_keys.redeemed_by_customer(group, customer_id),
    )


def expected_counters(group: str, live: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Counter values implied by the ledger's live uses ``(code, customer_id, count)``."""
    totals: Counter[str] = Counter()
    for code, customer_id, count in live:
        for key in use_keys(group, code, customer_id):
            totals[key] += count
    return dict(totals)


@dataclass(frozen=True, slots=True)
class Guarded:
    """What one guard call judged: an item status per use (700 ok, 711, 714, 723), the
    epoch of the counters (to give back with :meth:`Counters.release`) and, per use taken,
    the counters it made reach their limit (``REACHED_*`` flags; 0 for a use not taken)."""

    statuses: list[int]
    epoch: str
    reached: list[int]


class Counters:
    def __init__(self, redis: Redis, scripts: dict[str, AsyncScript]) -> None:
        self.redis = redis
        # The guard and the redeem's lookups: concurrent redeems share round trips.
        self.pipe = AutoPipeline(redis)
        self._guard = scripts["guard"]
        self._release = scripts["release"]
        self._rebuild = scripts["rebuild"]
        self._rebuild_chunk = scripts["rebuild_chunk"]

    async def guard(
        self,
        mode: Mode,
        group: str,
        *,
        total_limit: int | None,
        per_customer_limit: int | None,
        uses: Sequence[Use],
    ) -> Guarded:
        """Judge and take ``uses`` in one script; in "all" mode nothing is taken unless
        every use passes, in "check" mode nothing at all. Raises :class:`Cold` when the
        group must be rebuilt first."""
        keys = [redis_keys.redemption_warm(group), redis_keys.redeemed_total(group)]
        args: list[str | int] = [mode, _limit(total_limit), _limit(per_customer_limit)]
        for use in uses:
            keys.append(redis_keys.redeemed_coupon(group, use.code))
            keys.append(redis_keys.redeemed_coupon_by_customer(group, use.code, use.customer_id))
            keys.append(redis_keys.redeemed_by_customer(group, use.customer_id))
            args.extend((_limit(use.usage_limit), _limit(use.per_customer_limit)))
        result = await self.pipe.script(self._guard, keys, args)
        if result[0] == COLD:
            raise Cold(group)
        n = len(uses)
        epoch = result[n]
        return Guarded(
            statuses=[int(x) for x in result[:n]],
            epoch=epoch.decode() if isinstance(epoch, bytes) else str(epoch),
            reached=[int(x) for x in result[n + 1 : 2 * n + 1]],
        )

    async def release(
        self, group: str, uses: Iterable[tuple[str, str]], *, epoch: str | None = None
    ) -> None:
        """Give back what :meth:`guard` took for ``(code, customer_id)`` uses. With the
        ``epoch`` the guard returned, nothing is given back to counters rebuilt since."""
        keys = [redis_keys.redemption_warm(group)]
        for code, customer_id in uses:
            keys.extend(use_keys(group, code, customer_id))
        if len(keys) > 1:
            await self._release(keys=keys, args=[epoch or ""])

    async def current(self, group: str) -> tuple[bool, dict[str, int]]:
        """Whether the group is warm, and every redemption counter it has in Redis: a SCAN
        of the keyspace, for tests and diagnostics only (the reconciler reads by name)."""
        warm_key = redis_keys.redemption_warm(group)
        pattern = redis_keys.group_keys_pattern(group, "r")
        names = [
            k.decode() if isinstance(k, bytes) else str(k)
            async for k in self.redis.scan_iter(match=pattern, count=1000)
        ]
        present = await self.read([n for n in names if n != warm_key])
        return await self.warm(group), present

    async def read(self, names: Sequence[str]) -> dict[str, int]:
        """The values of the counters ``names`` that exist (MGET in chunks, no SCAN)."""
        found: dict[str, int] = {}
        for start in range(0, len(names), READ_CHUNK):
            chunk = names[start : start + READ_CHUNK]
            for name, value in zip(chunk, await self.redis.mget(chunk), strict=True):
                if value is not None:
                    found[name] = int(value)
        return found

    async def warm(self, group: str) -> bool:
        return bool(await self.redis.exists(redis_keys.redemption_warm(group)))

    async def rebuild(
        self,
        group: str,
        expected: dict[str, int],
        *,
        retired: Collection[str] = (),
        stale: Collection[str] = (),
    ) -> int:
        """Set the group's counters named in ``expected`` (0: deleted) and mark it warm with a
        new epoch; returns the drift (sum of absolute differences) it repaired. Counters
        named in ``retired`` (of coupons whose owner retired them) are deleted without
        counting as drift; those in ``stale`` (found with no use in the ledger) are deleted
        and count. Nothing else is read: a cold group has no other counters to delete.

        Up to :data:`WRITE_CHUNK` changes are one script, atomic with the marker. More are
        written in chunks with the group cold meanwhile (its marker deleted first): its
        guard answers COLD and waits for the caller's lock, and a give-back finds no epoch."""
        present = await self.read([*expected, *retired, *stale])
        drift = sum(abs(value - present.get(k, 0)) for k, value in expected.items())
        drift += sum(present.get(k, 0) for k in stale if k not in expected)
        names = [k for k, value in expected.items() if value]
        deletes = [k for k in (*expected, *retired, *stale) if not expected.get(k)]
        if len(names) + len(deletes) > WRITE_CHUNK:
            await self.redis.unlink(redis_keys.redemption_warm(group))
            await self.write_chunked(group, [(k, expected[k]) for k in names])
            await self.forget(group, deletes)
            names, deletes = [], []
        keys = [redis_keys.redemption_warm(group), *names, *deletes]
        await self._rebuild(
            keys=keys, args=[len(names), *(expected[n] for n in names), uuid.uuid4().hex]
        )
        return drift

    async def load(self, group: str, chunks: AsyncIterable[Sequence[tuple[str, int]]]) -> int:
        """Write a cold group's counters ``(name, value)`` as they come, chunk by chunk
        (:meth:`write_chunked`), then mark it warm with a new epoch (rebuild.lua); returns
        the drift repaired. Until the marker is set its guard answers COLD (and waits for
        the rebuild's lock) and a give-back has no epoch to land on."""
        drift = 0
        source = aiter(chunks)
        # The next chunk is read while this one is written: PostgreSQL and Redis work at once.
        upcoming = asyncio.ensure_future(anext(source, None))
        try:
            while (chunk := await upcoming) is not None:
                upcoming = asyncio.ensure_future(anext(source, None))
                drift += await self.write_chunked(group, chunk)
        finally:
            upcoming.cancel()
        await self._rebuild(keys=[redis_keys.redemption_warm(group)], args=[0, uuid.uuid4().hex])
        return drift

    async def write_chunked(self, group: str, values: Sequence[tuple[str, int]]) -> int:
        """SET every ``(name, value)`` of cold ``group``: one rebuild_chunk.lua call per
        :data:`WRITE_CHUNK` (its values one JSON argument: the client packs one string per
        call, not two per counter), the event loop yielded between them; the drift."""
        marker = redis_keys.redemption_warm(group)
        drift = 0
        for start in range(0, len(values), WRITE_CHUNK):
            chunk = values[start : start + WRITE_CHUNK]
            flat = [x for name, value in chunk for x in (name, str(value))]
            found = int(await self._rebuild_chunk(keys=[marker], args=[orjson.dumps(flat)]))
            if found < 0:
                raise RuntimeError(f"{group}: warm while its counters were rebuilt")
            drift += found
            await asyncio.sleep(0)
        return drift

    async def forget(self, group: str, names: Iterable[str] = ()) -> int:
        """Delete ``group``'s warm marker and its counters ``names`` (one slot: ``UNLINK``
        in chunks); how many keys there were. Its owner's retirement deleted every key
        under its hash tag, so only what a rebuild wrote since can be left."""
        keys = [redis_keys.redemption_warm(group), *names]
        removed = 0
        for start in range(0, len(keys), READ_CHUNK):
            removed += int(await self.redis.unlink(*keys[start : start + READ_CHUNK]))
        return removed

    async def scan_by_group(self) -> AsyncIterator[dict[str, list[str]]]:
        """One SCAN pass over the keyspace (every node of a cluster): each batch's
        redemption counters (warm markers left out), by group."""
        batch: dict[str, list[str]] = defaultdict(list)
        seen = 0
        async for raw in self.redis.scan_iter(match="{*}:r:*", count=1000):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            group, _, rest = name[1:].partition("}:r:")
            if rest and rest != "warm":
                batch[group].append(name)
                seen += 1
            if seen >= READ_CHUNK:
                yield dict(batch)
                batch, seen = defaultdict(list), 0
        if batch:
            yield dict(batch)
