"""Issuing coupons of a series to a customer (SPEC section 4).

Order of an issue: shared series lock -> take the limits in Redis (one script) -> claim
codes in the registry -> insert the coupons, the counter and the outbox events in one
transaction -> give back the take on any failure -> unlock -> publish facts -> respond.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coupon_core import idempotency, registry
from redis.exceptions import RedisError

from issuance_service import counters
from issuance_service.db import coupons as coupons_db
from issuance_service.db import outbox as outbox_db
from issuance_service.db import series as series_db
from issuance_service.deps import Stores
from issuance_service.domain import codes, rules
from issuance_service.domain.errors import series_expired, series_not_found
from issuance_service.domain.models import Customer, IssuedCoupon, Series
from issuance_service.publishing import publish_issued

log = logging.getLogger(__name__)

EVENT_STREAM_SERVICE = "issuance"
CODE_ATTEMPTS = 8
ATTEMPTS = 10  # cold counters or a forgotten code; each retry follows a repair

Respond = Callable[[Series, list[IssuedCoupon]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    scope: str
    key: str


async def _claim_codes(stores: Stores, series: Series, count: int) -> list[str]:
    """``count`` fresh codes, each claimed in the platform-wide registry."""
    claimed: list[str] = []
    for _ in range(CODE_ATTEMPTS):
        wanted = count - len(claimed)
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
        results = await registry.claim_many(stores.redis, candidates, series.group)
        claimed += [code for code, ok in zip(candidates, results, strict=True) if ok]
        if len(claimed) == count:
            return claimed
    await registry.release(stores.redis, claimed, series.group)
    raise RuntimeError(f"could not find {count} free codes for series {series.id}")


def _issued_events(coupons: list[IssuedCoupon], group: str) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "group": group,
            "couponId": c.id,
            "customerId": str(c.customer_id),
            "issuedAt": c.issued_at.isoformat(),
        }
        for c in coupons
    ]


async def load_issuable(stores: Stores, series_id: int, now: datetime) -> Series:
    """The series, if it exists and has not expired (707, 712)."""
    async with stores.pool.acquire() as conn:
        series = await series_db.get(conn, series_id, counted=False)
    if series is None:
        raise series_not_found(series_id)
    if rules.is_expired(series, now=now):
        raise series_expired(series_id)
    return series


async def _attempt(
    stores: Stores,
    *,
    series: Series,
    customer: Customer,
    count: int,
    now: datetime,
    respond: Respond,
    claim: IdempotencyClaim | None,
) -> tuple[list[IssuedCoupon], dict[str, Any]] | None:
    """One try; None when the series' counters were cold (nothing was taken)."""
    async with stores.pool.acquire() as conn:
        await series_db.lock_shared(conn, series.id)
        try:
            taken = await counters.take(
                stores.scripts, series=series, customer_id=customer.id, count=count, now=now
            )
            if taken is None:
                return None
            codes_claimed: list[str] = []
            committing = False
            try:
                codes_claimed = await _claim_codes(stores, series, count)
                transaction = conn.transaction()
                await transaction.start()
                try:
                    coupons = await coupons_db.insert_many(
                        conn,
                        series_id=series.id,
                        customer_id=customer.id,
                        codes=codes_claimed,
                        valid_till=rules.coupon_valid_till(series, issued_at=now),
                        issued_at=now,
                    )
                    await outbox_db.enqueue_many(
                        conn,
                        service=EVENT_STREAM_SERVICE,
                        event_type="coupon.issued",
                        payloads=_issued_events(coupons, series.group),
                    )
                    body = respond(series, coupons)
                    if claim is not None:
                        await idempotency.complete(
                            conn, scope=claim.scope, key=claim.key, status=200, body=body
                        )
                except BaseException:
                    with contextlib.suppress(Exception):
                        await transaction.rollback()
                    raise
                committing = True
                await transaction.commit()
            except BaseException:
                if committing:
                    # The COMMIT failed: it may have landed. Giving the take back could let
                    # the series issue past its limit, so keep it (an over-count only
                    # refuses; the next rebuild brings it back to the ledger), and keep the
                    # codes' registry entries too.
                    raise
                # Still under the shared lock: a rebuild cannot run between the rollback
                # and this give-back, so the counters never end up below the ledger.
                await counters.release(stores.scripts, taken)
                await registry.release(stores.redis, codes_claimed, series.group)
                raise
        finally:
            await series_db.unlock_shared(conn, series.id)
    return coupons, body


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


async def issue(
    stores: Stores,
    *,
    series: Series,
    customer: Customer,
    count: int,
    respond: Respond,
    claim: IdempotencyClaim | None = None,
) -> dict[str, Any]:
    """Issue ``count`` coupons of ``series`` (from :func:`load_issuable`) to ``customer``;
    returns ``respond``'s body, recorded for ``claim`` in the transaction that commits the
    coupons."""
    series_id = series.id
    for attempt in range(ATTEMPTS):
        now = datetime.now(UTC).replace(microsecond=0)
        if attempt:  # after a repair: the series may have changed meanwhile
            series = await load_issuable(stores, series_id, now)
        try:
            done = await _attempt(
                stores,
                series=series,
                customer=customer,
                count=count,
                now=now,
                respond=respond,
                claim=claim,
            )
        except coupons_db.CodeTaken:
            continue  # a code the registry had forgotten (Redis lost data): new codes
        if done is None:
            await counters.rebuild(stores.pool, stores.redis, stores.scripts, series_id)
            continue
        coupons, body = done
        await _publish_after_commit(stores, series, coupons, customer)
        return body
    raise RuntimeError(f"series {series_id}: no coupon issued after {ATTEMPTS} attempts")
