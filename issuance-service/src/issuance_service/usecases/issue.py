"""Issuing coupons of a series to a customer (SPEC section 4).

Order of an issue: BEGIN with the series' shared lock (one round trip) -> take the limits
in Redis (one script) -> reserve codes in the code registry -> insert the coupons and their outbox
events (one statement) -> the caller renders its answer -> :meth:`Issued.commit` stores it
(Idempotency-Key) and COMMITs; on any failure before the COMMIT, give back the take while
the transaction (and so the lock) is still open, then roll back -> publish facts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from coupon_core import code_registry, events, idempotency, redis_keys
from coupon_core.db import Connection, rollback_if_open
from coupon_core.redis_keys import CustomerIdentifier
from redis.exceptions import RedisError

from issuance_service.db import counters
from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db
from issuance_service.domain import codes, rules
from issuance_service.domain.errors import series_expired, series_not_found
from issuance_service.domain.models import Customer, IssuedCoupon, Series
from issuance_service.usecases import registration
from issuance_service.usecases.publish import publish_issued
from issuance_service.usecases.stores import Stores

log = logging.getLogger(__name__)

EVENT_STREAM_SERVICE = "issuance"
CODE_ATTEMPTS = 8
ATTEMPTS = 10  # cold counters or a forgotten code; each retry follows a repair


async def _reserve_codes(stores: Stores, series: Series, count: int) -> list[str]:
    """``count`` fresh codes, each reserved in the platform-wide code registry."""
    reserved: list[str] = []
    for _ in range(CODE_ATTEMPTS):
        wanted = count - len(reserved)
        candidates = list(
            {
                codes.generate(
                    prefix=series.coupon_prefix,
                    suffix=series.coupon_suffix,
                    length=series.random_code_length,
                )
                for _ in range(wanted)
            }
        )
        results = await code_registry.reserve_many(stores.redis, candidates, series.group)
        reserved += [code for code, ok in zip(candidates, results, strict=True) if ok]
        if len(reserved) == count:
            return reserved
    await code_registry.release(stores.redis, reserved, series.group)
    raise RuntimeError(f"could not find {count} free codes for series {series.id}")


def _issuable(found: Series | None, series_id: int, now: datetime) -> Series:
    if found is None:
        raise series_not_found(series_id)
    if rules.is_expired(found, now=now):
        raise series_expired(series_id)
    return found


async def load_issuable(stores: Stores, series_id: int, now: datetime) -> Series:
    """The series, if it exists and has not expired (707, 712)."""
    async with stores.pool.acquire() as conn:
        found = await series_db.get(conn, series_id, counted=False)
    return _issuable(found, series_id, now)


async def load_for_issue(
    stores: Stores, series_id: int, given: Mapping[CustomerIdentifier, object], now: datetime
) -> tuple[Series, Customer]:
    """The series (as :func:`load_issuable`), then the customer, read on one connection. The
    series comes first so that an issue that cannot happen registers nobody; a customer named
    only by mobile/email/externalId and not known yet is registered (an unknown id is 701)."""
    async with stores.pool.acquire() as conn:
        series = _issuable(await series_db.get(conn, series_id, counted=False), series_id, now)
        identifiers = registration.identifiers_for_issue(given)
        customer = await registration.find_on(conn, identifiers)
    if customer is None:
        customer = await registration.register_for_issue(stores, identifiers)
    return series, customer


class Issued(idempotency.Uncommitted):
    """Coupons of ``series`` inserted, with their events, in a transaction still open: the
    typed result the answer is rendered from before :meth:`commit` commits them with it.
    Once the COMMIT is sent the take is kept, whatever happens: a failed or interrupted
    COMMIT may have landed, and its lock is gone, so giving the take back could let the
    series issue past its limit (an over-count only refuses; the reconciler brings it back
    to the ledger); the codes' registry entries are kept too."""

    what = "issue"

    def __init__(
        self,
        stores: Stores,
        conn: Connection,
        *,
        series: Series,
        coupons: list[IssuedCoupon],
        taken: counters.Taken,
        codes: list[str],
    ) -> None:
        super().__init__(conn)
        self.series = series
        self.coupons = coupons
        self._stores = stores
        self._taken = taken
        self._codes = codes

    async def roll_back(self) -> None:
        """Nothing committed: give back the take and the codes, then roll back."""
        await _give_back(self._stores, self.conn, self.series, self._taken, self._codes)


async def _give_back(
    stores: Stores, conn: Connection, series: Series, taken: counters.Taken, codes: list[str]
) -> None:
    """No COMMIT was sent. While the transaction is open its shared lock keeps a rebuild out
    until the rollback; if the connection was lost, the lock went with it, but the give-back
    carries the epoch of the take and so never lands on counters a rebuild has set since:
    the counters never end up below the ledger."""
    await counters.release(stores.scripts, taken)
    await code_registry.release(stores.redis, codes, series.group)
    await rollback_if_open(conn)


def _limit_reached(series: Series, taken: counters.Taken, now: datetime) -> dict[str, Any] | None:
    """The limit.reached payload of a take that issued the series' last units, if it did."""
    if not taken.reached:
        return None
    return events.limit_reached(
        group=series.group,
        code=None,
        counter="issues",
        limit=series.max_create,
        reached_at=now.isoformat(),
    )


async def _insert(
    stores: Stores,
    conn: Connection,
    *,
    series: Series,
    customer: Customer,
    count: int,
    now: datetime,
) -> Issued | None:
    """One try, up to the coupons' insert; None when the series' counters were cold
    (nothing was taken, the transaction rolled back)."""
    # BEGIN and the series' shared lock in one round trip. The lock is transaction-level:
    # it lasts until the COMMIT, or the ROLLBACK that follows a give-back.
    await conn.execute(series_db.begin_shared_sql(series.id))
    taken: counters.Taken | None = None
    codes_reserved: list[str] = []
    try:
        taken = await counters.take(
            stores.scripts, series=series, customer_id=customer.id, count=count, now=now
        )
        if taken is None:
            await conn.execute("ROLLBACK")  # before the rebuild waits for this lock
            return None
        codes_reserved = await _reserve_codes(stores, series, count)
        coupons = await coupons_db.insert_with_events(
            conn,
            series_id=series.id,
            group=series.group,
            customer_id=customer.id,
            codes=codes_reserved,
            valid_till=rules.coupon_valid_till(series, issued_at=now),
            issued_at=now,
            stream=redis_keys.event_stream(EVENT_STREAM_SERVICE),
            event_type="coupon.issued",
            limit_reached=_limit_reached(series, taken, now),
        )
    except BaseException:
        if taken is None:
            await rollback_if_open(conn)
        else:
            await _give_back(stores, conn, series, taken, codes_reserved)
        raise
    return Issued(stores, conn, series=series, coupons=coupons, taken=taken, codes=codes_reserved)


async def _publish_after_commit(
    stores: Stores, series: Series, coupons: list[IssuedCoupon], owner: Customer
) -> None:
    """The coupons are committed: a Redis failure now must not turn success into an error.
    The outbox event records the issue; the republisher writes all facts again once Redis
    comes back empty."""
    try:
        await publish_issued(stores.redis, series, coupons, owner)
    except (RedisError, OSError) as exc:
        log.warning(
            "series %s: facts of %d issued coupons not published: %r", series.id, len(coupons), exc
        )


@contextlib.asynccontextmanager
async def issue(
    stores: Stores, *, series: Series, customer: Customer, count: int
) -> AsyncIterator[Issued]:
    """Issue ``count`` coupons of ``series`` (from :func:`load_issuable`) to ``customer``.
    The block gets them inserted, the transaction open, renders its answer and calls
    :meth:`Issued.commit`; leaving the block any other way gives everything back. Once the
    block is left committed, the coupons' facts are published."""
    series_id = series.id
    for attempt in range(ATTEMPTS):
        now = datetime.now(UTC).replace(microsecond=0)
        if attempt:  # after a repair: the series may have changed meanwhile
            series = await load_issuable(stores, series_id, now)
        async with stores.pool.acquire() as conn:
            try:
                issued = await _insert(
                    stores, conn, series=series, customer=customer, count=count, now=now
                )
            except coupons_db.CodeTaken:
                continue  # a code the registry had forgotten (Redis lost data): new codes
            if issued is not None:
                async with idempotency.until_committed(issued):
                    yield issued
        if issued is None:
            await counters.rebuild(stores.pool, stores.redis, stores.scripts, series_id)
            continue
        await _publish_after_commit(stores, issued.series, issued.coupons, customer)
        return
    raise RuntimeError(f"series {series_id}: no coupon issued after {ATTEMPTS} attempts")
