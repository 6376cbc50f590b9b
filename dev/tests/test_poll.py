"""The one poll helper of the tests: what it waits for, what it returns, how it fails."""

from __future__ import annotations

import asyncio

import pytest
from coupon_dev.testing.poll import until, until_sync


async def test_until_returns_the_first_true_value_of_a_probe() -> None:
    seen: list[int] = []

    async def probe() -> dict[str, int] | None:
        seen.append(len(seen))
        return {"polls": len(seen)} if len(seen) == 3 else None

    assert await until(probe, "the third poll") == {"polls": 3}


async def test_until_polls_state_that_another_task_changes() -> None:
    done: list[int] = []

    async def work() -> None:
        for n in range(5):
            done.append(n)
            await asyncio.sleep(0)

    task = asyncio.create_task(work())
    assert await until(lambda: len(done) >= 5, "the work done") is True
    await task


async def test_until_waits_for_an_expected_value() -> None:
    values = iter([(1, 0), (1, 1), (2, 1)])
    assert await until(lambda: next(values), "the counts", equals=(2, 1)) == (2, 1)


async def test_until_fails_with_the_last_value_seen() -> None:
    async def counts() -> tuple[int, int]:
        return (3, 0)

    with pytest.raises(AssertionError, match=r"the counts not within 0.05s: last \(3, 0\)"):
        await until(counts, "the counts", limit_s=0.05, equals=(3, 1))


def test_until_sync_returns_the_first_true_value() -> None:
    values = iter(["", "", "ready"])
    assert until_sync(lambda: next(values), "the answer") == "ready"
