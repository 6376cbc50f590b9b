"""Gaps: entries the stream's hard cap trimmed before a consumer group read them, recorded
before they are trimmed and replayed from the outbox once the group reads again.

* :func:`trim_over_cap` keeps a stream at ``STREAM_MAX_ENTRIES``: it reads the oldest
  entries past the cap in chunks of ``CHUNK``; for each group, the outbox ids of those it
  has not consumed (after its last-delivered-id, or still pending) join the group's gap in
  the hash ``events:gaps:<service>`` (field: the group); only then ``XTRIM MINID`` removes
  the chunk. Counted in ``events_trimmed_unconsumed_total{stream,group}``, logged.
* :func:`replay` republishes a group's gap once the group is back: it has read past the
  last entry trimmed from it and has fewer than ``CAUGHT_UP`` entries left to read. The
  outbox rows of the gap's id runs (``id BETWEEN`` on the primary key) are published, at
  most ``REPLAY_BATCH`` a round and never more than the group can read before the cap
  would trim them again (the cap less its pending and unread entries; a group still down
  may lose older entries to them, which join its own gap). Every group sees them;
  consumers dedupe through ``processed_events``. Rows outbox retention already removed
  cannot be replayed: counted in ``events_lost_total{stream,group}`` and logged as an error.

A gap is kept as runs of consecutive outbox ids, so it also counts exactly what was lost.
If Redis loses the hash it also lost the stream, and the relay's replay of the last 24
hours (the relay marker) takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from coupon_core import redis_keys
from coupon_core.db import Connection
from coupon_core.streams import (
    GroupState,
    StreamId,
    StreamMetrics,
    format_id,
    next_id,
    parse_id,
    publish_rows,
)

log = logging.getLogger(__name__)

CHUNK = 1000
REPLAY_BATCH = 500
# A group is back once it has at most this many entries not yet delivered (counted exactly).
CAUGHT_UP = 1000
# Runs kept per gap: past this the smallest holes between runs are bridged (their rows
# are replayed too, harmlessly, and a bridged id with no row would count as lost).
MAX_RUNS = 1000

Run = tuple[int, int]

_ROWS = (
    "SELECT id, stream, event_type, payload, created_at FROM outbox "
    "WHERE id BETWEEN $1 AND $2 ORDER BY id LIMIT $3"
)


def runs_of(ids: Iterable[int]) -> list[Run]:
    """Sorted, disjoint runs of consecutive ids, inclusive."""
    return coalesce((n, n) for n in ids)


def coalesce(runs: Iterable[Run]) -> list[Run]:
    """Sorted, disjoint runs covering ``runs``; past ``MAX_RUNS`` the smallest holes are
    bridged."""
    merged: list[Run] = []
    for lo, hi in sorted(runs):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    if len(merged) <= MAX_RUNS:
        return merged
    holes = sorted(range(1, len(merged)), key=lambda i: merged[i][0] - merged[i - 1][1])
    bridged = set(holes[: len(merged) - MAX_RUNS])
    kept: list[Run] = []
    for i, run in enumerate(merged):
        if i in bridged:
            kept[-1] = (kept[-1][0], run[1])
        else:
            kept.append(run)
    return kept


@dataclass(frozen=True, slots=True)
class Gap:
    runs: tuple[Run, ...]
    # The last entry trimmed from the group: once it has read past it, it is back.
    until: StreamId

    @property
    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.runs)

    def joined(self, ids: Sequence[int], until: StreamId) -> Gap:
        return Gap(tuple(coalesce([*self.runs, *runs_of(ids)])), max(self.until, until))

    def without(self, lo: int, hi: int) -> Gap:
        left = []
        for a, b in self.runs:
            if b < lo or a > hi:
                left.append((a, b))
                continue
            if a < lo:
                left.append((a, lo - 1))
            if b > hi:
                left.append((hi + 1, b))
        return Gap(tuple(left), self.until)

    def dumps(self) -> bytes:
        return orjson.dumps({"runs": self.runs, "until": format_id(self.until)})

    @classmethod
    def loads(cls, raw: bytes) -> Gap:
        data = orjson.loads(raw)
        return cls(tuple((lo, hi) for lo, hi in data["runs"]), parse_id(data["until"]))


async def open_gaps(redis: Redis, service: str) -> dict[str, Gap]:
    """Each group's gap in ``service``'s stream, by group."""
    raw: Any = await redis.hgetall(redis_keys.stream_gaps(service))
    return {
        (group.decode() if isinstance(group, bytes) else group): Gap.loads(value)
        for group, value in raw.items()
    }


def _outbox_id(service: str, fields: dict[bytes, bytes]) -> int | None:
    source, _, number = fields.get(b"id", b"").decode().rpartition(":")
    return int(number) if source == service and number.isdigit() else None


async def _unconsumed(
    redis: Redis, stream: str, group: GroupState, chunk: list[tuple[bytes, dict[bytes, bytes]]]
) -> list[bytes]:
    """The entries of ``chunk`` (oldest first) that ``group`` has not consumed."""
    last = parse_id(chunk[-1][0])
    if last < group.needs_from:
        return []
    pending: set[bytes] = set()
    if group.first_pending is not None and group.first_pending <= last:
        found: Any = await redis.xpending_range(
            stream, group.name, format_id(group.first_pending), format_id(last), len(chunk)
        )
        pending = {item["message_id"] for item in found}
    return [
        entry_id
        for entry_id, _ in chunk
        if parse_id(entry_id) > group.last_delivered or entry_id in pending
    ]


async def trim_over_cap(
    redis: Redis,
    *,
    service: str,
    stream: str,
    groups: Sequence[GroupState],
    max_entries: int,
    metrics: StreamMetrics,
) -> None:
    """Trim the stream down to ``max_entries``, recording first what each group loses."""
    over = int(await redis.xlen(stream)) - max_entries
    key = redis_keys.stream_gaps(service)
    while over > 0:
        chunk: Any = await redis.xrange(stream, count=min(CHUNK, over))
        if not chunk:
            return
        fields = dict(chunk)
        last = parse_id(chunk[-1][0])
        gaps = await open_gaps(redis, service)
        lost: dict[str, int] = {}
        for group in groups:
            unread = await _unconsumed(redis, stream, group, chunk)
            if not unread:
                continue
            ids = [n for e in unread if (n := _outbox_id(service, fields[e])) is not None]
            gaps[group.name] = gaps.get(group.name, Gap((), last)).joined(ids, last)
            lost[group.name] = len(unread)
        if lost:
            await redis.hset(key, mapping={g: gaps[g].dumps() for g in lost})
        await redis.xtrim(stream, minid=format_id(next_id(last)), approximate=False)
        for group_name, count in lost.items():
            metrics.trimmed_unconsumed.labels(stream=stream, group=group_name).inc(count)
            log.warning(
                "%s: trimmed %d entries consumer group %s had not consumed (stream at its "
                "cap of %d); recorded to replay them from the outbox",
                stream,
                count,
                group_name,
                max_entries,
            )
        over -= len(chunk)


async def _undelivered(redis: Redis, stream: str, group: GroupState, limit: int) -> int | None:
    """The entries after the group's last-delivered-id, counted exactly; None when there
    are ``limit`` or more (the group has not caught up yet)."""
    after: Any = await redis.xrange(stream, min="(" + format_id(group.last_delivered), count=limit)
    return len(after) if len(after) < limit else None


async def replay(
    conn: Connection,
    redis: Redis,
    *,
    service: str,
    stream: str,
    groups: Sequence[GroupState],
    max_entries: int,
    metrics: StreamMetrics,
) -> bool:
    """Republish a batch of each gap whose group is back, as much as the group can read
    before the cap would trim it; True when something was replayed (the next batch may
    follow at once)."""
    key = redis_keys.stream_gaps(service)
    gaps = await open_gaps(redis, service)
    present = {group.name for group in groups}
    for gone in [name for name in gaps if name not in present]:
        # A retired consumer group: nobody is left to replay its gap to.
        log.warning("%s: consumer group %s no longer exists; its gap dropped", stream, gone)
        await redis.hdel(key, gone)
        del gaps[gone]
    replayed = 0
    for group in groups:
        gap = gaps.get(group.name)
        if gap is None or group.last_delivered < gap.until:
            continue
        unread = await _undelivered(redis, stream, group, min(CAUGHT_UP, max_entries))
        # What the group reads next, replayed entries included, must stay under the cap.
        room = max_entries - group.pending - replayed - (unread or 0)
        if unread is None or room <= 0:
            continue
        missing, lo, end = 0, 0, 0
        if gap.runs:
            lo, hi = gap.runs[0]
            limit = min(REPLAY_BATCH, room)
            rows = await conn.fetch(_ROWS, lo, hi, limit)
            end = int(rows[-1]["id"]) if len(rows) == limit else hi
            if rows:
                await publish_rows(redis, service, rows)
            gap = gap.without(lo, end)
            replayed += len(rows)
            missing = end - lo + 1 - len(rows)
        if gap.runs:
            await redis.hset(key, group.name, gap.dumps())
        else:
            await redis.hdel(key, group.name)
            del gaps[group.name]
        if missing:
            metrics.lost.labels(stream=stream, group=group.name).inc(missing)
            log.error(
                "%s: %d events lost for consumer group %s (outbox ids %d..%d are past "
                "OUTBOX_RETENTION_H and cannot be replayed); the counters they feed drift: "
                "couponctl reconcile repairs the Redis usage counters, docs/operations.md "
                "('Event streams') says how to correct the consumer's counts",
                stream,
                missing,
                group.name,
                lo,
                end,
            )
    metrics.gaps_open.labels(stream=stream).set(len(gaps))
    return replayed > 0
