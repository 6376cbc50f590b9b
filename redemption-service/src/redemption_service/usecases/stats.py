"""The redemption statistics: redemptions and reversals per UTC hour and per UTC day
(zero-filled), what redeem answered per item per day, and the top promotions and series
(docs/redemption.md, "Statistics")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from coupon_core import redis_keys, timeseries

from redemption_service.db import stats
from redemption_service.domain.models import group_parts

TOP = 10


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    redeemed: bool
    count: int


@dataclass(frozen=True, slots=True)
class HourCounts:
    hour: datetime  # the hour's start, UTC
    redemptions: int
    reversals: int


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: date  # UTC
    redemptions: int
    reversals: int
    outcomes: list[Outcome]  # by status (of 700: not redeemed, then redeemed)


@dataclass(frozen=True, slots=True)
class Stats:
    hours: list[HourCounts]  # oldest first, the current hour last
    days: list[DayCounts]  # oldest first, today last
    outcomes: list[Outcome]  # over the days
    top_promotions: list[tuple[str, int]]  # (promotion code, redemptions)
    top_series: list[tuple[int, int]]  # (series id, redemptions)


def _named(top: list[tuple[str, int]]) -> list[tuple[str | None, int | None, int]]:
    return [(*group_parts(group), n) for group, n in top]


def _outcomes(counts: Counter[tuple[int, bool]]) -> list[Outcome]:
    """By status; for 700, the items not redeemed first."""
    return [Outcome(status, redeemed, n) for (status, redeemed), n in sorted(counts.items())]


async def read(pool: asyncpg.Pool, *, hours: int, days: int, now: datetime) -> Stats:
    """The last ``hours`` hours and ``days`` days up to ``now``, from one snapshot: the
    roll-up's counts, the ledger rows past it, the reversals and the outcome tallies."""
    buckets = timeseries.window(hours=hours, days=days, now=now)
    first_hour, first_day, since = buckets.hours[0], buckets.days[0], buckets.since
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        upto = await stats.rolled_up_to(conn)
        per_hour = Counter(await stats.hours_since(conn, first_hour))
        per_day = Counter(await stats.days_since(conn, first_day))
        recent: Counter[str] = Counter()
        for hour, group, n in await stats.ledger_since(conn, max(upto, since)):
            if hour >= first_hour:
                per_hour[hour] += n
            if hour.date() >= first_day:
                per_day[hour.date()] += n
                recent[group] += n
        reversals = await stats.reversals_since(conn, since)
        tallied = await stats.outcomes_since(conn, first_day)
        top = {
            prefix: await stats.top_groups(
                conn, prefix=prefix + ":", since=first_day, recent=recent, limit=TOP
            )
            for prefix in (redis_keys.PROMOTION, redis_keys.SERIES)
        }
    reversed_per_day: Counter[date] = Counter()
    for hour, n in reversals.items():
        reversed_per_day[hour.date()] += n
    by_day: dict[date, Counter[tuple[int, bool]]] = {}
    for day, status, redeemed, n in tallied:
        by_day.setdefault(day, Counter())[status, redeemed] += n
    return Stats(
        hours=[HourCounts(h, per_hour[h], reversals.get(h, 0)) for h in buckets.hours],
        days=[
            DayCounts(d, per_day[d], reversed_per_day[d], _outcomes(by_day.get(d, Counter())))
            for d in buckets.days
        ],
        outcomes=_outcomes(sum(by_day.values(), Counter())),
        top_promotions=[(p, n) for p, _, n in _named(top[redis_keys.PROMOTION]) if p is not None],
        top_series=[(s, n) for _, s, n in _named(top[redis_keys.SERIES]) if s is not None],
    )
