"""The issuance Lua scripts against real Redis, also after SCRIPT FLUSH."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from coupon_core import redis_keys
from coupon_core.errors import DomainError
from coupon_core.lifecycle import redis_from_url
from coupon_core.scripts import load_scripts
from issuance_service.app import LUA_DIR
from issuance_service.db import counters
from issuance_service.domain.models import Series
from redis.asyncio import Redis

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _series(**limits: int) -> Series:
    values = {
        "max_create": -1,
        "max_vouchers_per_user": -1,
        "min_days_between_vouchers": -1,
        **limits,
    }
    return Series(
        id=7,
        description="d",
        discount_code="",
        discount_type="ABS",
        discount_value=1.0,
        discount_upto=0.0,
        discount_on="BILL",
        detailed_info="",
        valid_till_date=NOW + timedelta(days=90),
        valid_days_from_creation=-1,
        max_redeem=-1,
        redemption_per_coupon_max_limit=1,
        max_redemptions_in_series_per_user=-1,
        same_user_multiple_redeem=False,
        any_user=False,
        coupon_prefix="",
        coupon_suffix="",
        random_code_length=10,
        num_issued=0,
        num_redeemed=0,
        created_at=NOW,
        updated_at=NOW,
        **values,
    )


@pytest.fixture(params=["loaded", "after SCRIPT FLUSH"])
async def scripts(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[counters.Scripts]:
    client = cast(Redis, redis_from_url(redis_url))
    loaded = load_scripts(client, LUA_DIR)
    if request.param == "after SCRIPT FLUSH":
        await client.script_flush()
    # Warm, as a rebuild leaves a series without coupons.
    await client.set(redis_keys.issuance_warm("S:7"), "1")
    await client.set(redis_keys.issued_total("S:7"), "0")
    yield loaded
    await client.aclose()


async def test_take_checks_every_limit_and_release_gives_back(scripts: counters.Scripts) -> None:
    series = _series(max_create=3, max_vouchers_per_user=2, min_days_between_vouchers=1)
    first = await counters.take(scripts, series=series, customer_id=1, count=1, now=NOW)
    assert first is not None
    with pytest.raises(DomainError, match="minDaysBetweenVouchers"):
        await counters.take(scripts, series=series, customer_id=1, count=1, now=NOW)
    later = NOW + timedelta(days=1)
    second = await counters.take(scripts, series=series, customer_id=1, count=1, now=later)
    assert second is not None
    with pytest.raises(DomainError, match="maxVouchersPerUser"):
        await counters.take(
            scripts, series=series, customer_id=1, count=1, now=later + timedelta(days=5)
        )
    await counters.take(scripts, series=series, customer_id=2, count=1, now=NOW)
    with pytest.raises(DomainError, match="maxCreate") as refused:
        await counters.take(scripts, series=series, customer_id=3, count=1, now=NOW)
    assert refused.value.numeric_code == 722
    await counters.release(scripts, second)
    # Given back: customer 1 may take again at the same moment as the released issue.
    again = await counters.take(scripts, series=series, customer_id=1, count=1, now=later)
    assert again is not None


async def test_cold_series_takes_nothing(scripts: counters.Scripts, redis_url: str) -> None:
    client = cast(Redis, redis_from_url(redis_url))
    try:
        await client.delete(redis_keys.issuance_warm("S:7"))
        taken = await counters.take(scripts, series=_series(), customer_id=1, count=1, now=NOW)
        assert taken is None
        assert await client.get(redis_keys.issued_total("S:7")) == b"0"
    finally:
        await client.aclose()


async def test_a_total_lost_on_its_own_reads_cold(
    scripts: counters.Scripts, redis_url: str
) -> None:
    client = cast(Redis, redis_from_url(redis_url))
    try:
        series = _series(max_create=1)
        assert await counters.take(scripts, series=series, customer_id=1, count=1, now=NOW)
        await client.delete(redis_keys.issued_total("S:7"))
        assert await counters.take(scripts, series=series, customer_id=2, count=1, now=NOW) is None
    finally:
        await client.aclose()


async def test_a_give_back_never_lands_on_counters_rebuilt_since_the_take(
    scripts: counters.Scripts, redis_url: str
) -> None:
    """A take whose transaction is lost with its connection (and its lock) gives back after a
    rebuild has counted the ledger: the rebuilt counters keep what the ledger says."""
    client = cast(Redis, redis_from_url(redis_url))
    try:
        series = _series(max_create=10)
        taken = await counters.take(scripts, series=series, customer_id=1, count=1, now=NOW)
        assert taken is not None
        # Redis lost the series' counters; a rebuild counted 5 committed issues, 2 of them
        # to customer 1, and marked the counters warm under a new epoch.
        await client.delete(redis_keys.issuance_warm("S:7"))
        keys = [
            redis_keys.issuance_warm("S:7"),
            redis_keys.issued_total("S:7"),
            redis_keys.issued_to_customer("S:7", "1"),
            redis_keys.last_issued_to_customer("S:7", "1"),
        ]
        await scripts["issue_rebuild"](keys=keys, args=[5, "e2", 2, int(NOW.timestamp())])
        await counters.release(scripts, taken)
        assert await client.get(redis_keys.issued_total("S:7")) == b"5"
        assert await client.get(redis_keys.issued_to_customer("S:7", "1")) == b"2"
        # A take from the rebuilt counters gives back exactly what it took.
        again = await counters.take(scripts, series=series, customer_id=2, count=1, now=NOW)
        assert again is not None
        assert again.epoch == "e2"
        await counters.release(scripts, again)
        assert await client.get(redis_keys.issued_total("S:7")) == b"5"
    finally:
        await client.aclose()
