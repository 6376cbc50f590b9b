"""Event streams as their relay keeps them: consumer groups declared up front, each group's
progress read cheaply, entries trimmed only once every group has consumed them.

* :data:`CONSUMER_GROUPS` names the consumer groups that read each service's stream. The
  relay creates them (``XGROUP CREATE ... 0 MKSTREAM``) before it publishes, so the events
  of a consumer that has not started yet are kept for it.
* :func:`read_state` reads a stream's length and each group's progress: ``XINFO STREAM``,
  ``XINFO GROUPS`` and an ``XPENDING`` summary per group with entries pending.
* :func:`trim_consumed` removes (``XTRIM MINID``) what every group has consumed: below the
  oldest entry any group still needs (its first pending entry, or the entry after its
  last-delivered-id), keeping at least the newest ``STREAM_TAIL`` entries.

What the stream's hard cap trims before a group read it is a gap, replayed from the outbox:
:mod:`coupon_core.stream_gaps`. The relay (:func:`coupon_core.events.relay_outbox`) runs
both every ``MAINTAIN_EVERY_S``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from coupon_core import metrics as families
from coupon_core.metrics import Metrics

log = logging.getLogger(__name__)

# Which consumer groups read which service's stream (``consume(stream_service=key,
# consumer=group)``). A consumer of a new stream is declared here first.
CONSUMER_GROUPS: Mapping[str, tuple[str, ...]] = {
    "redemption": ("issuance", "promotion", "webhook"),
    "issuance": ("webhook",),
    "promotion": ("webhook",),
}
# Entries kept whatever the groups have consumed, so a stream is never emptied needlessly.
STREAM_TAIL = 100
MAINTAIN_EVERY_S = 1.0

StreamId = tuple[int, int]


def parse_id(value: bytes | str) -> StreamId:
    ms, _, seq = (value.decode() if isinstance(value, bytes) else value).partition("-")
    return int(ms), int(seq or 0)


def format_id(entry_id: StreamId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def next_id(entry_id: StreamId) -> StreamId:
    """The smallest id after ``entry_id`` (``XTRIM MINID`` of it keeps ``entry_id`` out)."""
    return entry_id[0], entry_id[1] + 1


@dataclass(frozen=True, slots=True)
class GroupState:
    name: str
    pending: int
    last_delivered: StreamId
    first_pending: StreamId | None
    # Entries after ``last_delivered``: exact on Redis >= 7 (XINFO GROUPS ``lag``), else
    # estimated from the ids' timestamps (see :func:`_undelivered`).
    undelivered: int

    @property
    def needs_from(self) -> StreamId:
        """The oldest entry the group has not consumed."""
        after = next_id(self.last_delivered)
        return after if self.first_pending is None else min(self.first_pending, after)

    @property
    def lag(self) -> int:
        return self.pending + self.undelivered


@dataclass(frozen=True, slots=True)
class StreamState:
    length: int
    first: StreamId | None
    last: StreamId | None
    groups: tuple[GroupState, ...]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _undelivered(info: Mapping[str, Any], group: Mapping[str, Any], delivered: StreamId) -> int:
    """Redis >= 7 counts it; on 6.2 the share of the stream's time span past ``delivered``
    stands for the share of its entries (exact when events arrive at an even rate)."""
    if group.get("lag") is not None:
        return int(group["lag"])
    length = int(info["length"])
    first, last = info.get("first-entry"), info.get("last-entry")
    if not length or first is None or last is None:
        return 0
    first_id, last_id = parse_id(first[0]), parse_id(last[0])
    if delivered >= last_id:
        return 0
    if delivered < first_id:
        return length
    span = last_id[0] - first_id[0]
    share = (last_id[0] - delivered[0]) / span if span else 0.5
    return max(1, min(length, round(length * share)))


async def read_state(redis: Redis, stream: str) -> StreamState | None:
    """The stream's length and its groups' progress; None when the stream does not exist."""
    try:
        info: dict[str, Any] = await redis.xinfo_stream(stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return None
        raise
    groups = []
    for group in await redis.xinfo_groups(stream):
        name = _text(group["name"])
        pending = int(group["pending"])
        first_pending = None
        if pending:
            summary: dict[str, Any] = await redis.xpending(stream, name)
            if summary["min"] is not None:
                first_pending = parse_id(summary["min"])
        delivered = parse_id(group["last-delivered-id"])
        groups.append(
            GroupState(
                name, pending, delivered, first_pending, _undelivered(info, group, delivered)
            )
        )
    first, last = info.get("first-entry"), info.get("last-entry")
    return StreamState(
        length=int(info["length"]),
        first=parse_id(first[0]) if first else None,
        last=parse_id(last[0]) if last else None,
        groups=tuple(groups),
    )


async def ensure_groups(redis: Redis, stream: str, groups: Sequence[str]) -> None:
    """Create each consumer group, reading from the stream's start, unless it exists."""
    for group in groups:
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def trim_consumed(redis: Redis, stream: str, state: StreamState, *, tail: int) -> int:
    """Remove the entries every group has consumed, keeping the newest ``tail``; returns how
    many were removed. Groups only move forward, so a ``state`` read a moment ago is safe."""
    if state.first is None or state.last is None or state.length <= tail:
        return 0
    if tail:
        newest: Any = await redis.xrevrange(stream, count=tail)
        keep_from = parse_id(newest[-1][0])
    else:
        keep_from = next_id(state.last)
    for group in state.groups:
        keep_from = min(keep_from, group.needs_from)
    if keep_from <= state.first:
        return 0
    return int(await redis.xtrim(stream, minid=format_id(keep_from), approximate=False))


def entry_fields(service: str, row: asyncpg.Record) -> dict[FieldT, EncodableT]:
    """The stream entry of an outbox row (``id`` is ``<service>:<outbox id>``)."""
    return {
        "id": f"{service}:{row['id']}",
        "type": row["event_type"],
        "payload": orjson.dumps(row["payload"]),
        "occurred_at": row["created_at"].isoformat(),
    }


async def publish_rows(redis: Redis, service: str, rows: Sequence[asyncpg.Record]) -> None:
    """XADD outbox rows to their stream in outbox-id order, one pipeline."""
    async with redis.pipeline(transaction=False) as pipe:
        for row in sorted(rows, key=lambda r: int(r["id"])):
            pipe.xadd(row["stream"], entry_fields(service, row))
        await pipe.execute()


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    length: Gauge
    lag: Gauge
    gaps_open: Gauge
    trimmed_unconsumed: Counter
    lost: Counter

    @classmethod
    def of(cls, metrics: Metrics) -> StreamMetrics:
        return cls(
            length=metrics.gauge(families.STREAM_LENGTH),
            lag=metrics.gauge(families.CONSUMER_LAG),
            gaps_open=metrics.gauge(families.STREAM_GAPS),
            trimmed_unconsumed=metrics.counter(families.TRIMMED_UNCONSUMED),
            lost=metrics.counter(families.EVENTS_LOST),
        )

    def observe(self, stream: str, state: StreamState) -> None:
        self.length.labels(stream=stream).set(state.length)
        for group in state.groups:
            self.lag.labels(stream=stream, group=group.name).set(group.lag)
