"""Group commit: concurrent redeems share the locks statement and the ledger statement, and
one member's failure stays its own (db/group_commit.py)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from coupon_core.db import rolled_back
from coupon_core.keys import PG_POOL
from coupon_core.testing.poll import until
from prometheus_client import CollectorRegistry
from redemption_service.db import ledger
from redemption_service.db.group_commit import GroupCommit, Seat

ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"


@pytest.fixture
async def conn(database_url: str) -> Any:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def started(aiohttp_client: Any, app: web.Application) -> None:
    """The app started: migrations applied, the pool open."""
    await aiohttp_client(app)


def _row(customer: str, amount: str = "10") -> ledger.NewRedemption:
    return ledger.NewRedemption("G1", "S:70", customer, Decimal(amount), Decimal(1), "", [])


class Slot:
    """The only slot of ``commits``, held by a member until :meth:`free` (it then leaves
    without writing), so the next joiners wait in one batch."""

    def __init__(self, commits: GroupCommit) -> None:
        self.inside = asyncio.Event()
        self.go = asyncio.Event()
        self.task = asyncio.create_task(self._hold(commits))

    async def _hold(self, commits: GroupCommit) -> None:
        async with commits.join(["S:70"]):
            self.inside.set()
            await self.go.wait()

    async def free(self) -> None:
        self.go.set()
        await self.task


async def _write(commits: GroupCommit, rows: list[ledger.NewRedemption]) -> list[int]:
    seat: Seat
    async with commits.join(["S:70", "S:71"]) as seat:
        return await seat.write(rows)


async def _wait_in_one_batch(commits: GroupCommit, count: int) -> None:
    async def formed() -> bool:
        return commits.waiting == count

    await until(formed, f"{count} redeems waiting in one batch", limit_s=10)


async def test_waiting_redeems_share_one_ledger_statement(
    app: web.Application, started: None, conn: asyncpg.Connection
) -> None:
    registry = CollectorRegistry()
    commits = GroupCommit(app[PG_POOL], concurrency=1, registry=registry)
    slot = Slot(commits)
    await slot.inside.wait()
    customers = [[f"c-{i}"] * (1 + i % 2) for i in range(5)]  # one or two rows each
    writers = [asyncio.create_task(_write(commits, [_row(c) for c in rows])) for rows in customers]
    await _wait_in_one_batch(commits, 5)
    await slot.free()
    results = await asyncio.gather(*writers)

    assert registry.get_sample_value("redemption_group_commit_size_count") == 1
    assert registry.get_sample_value("redemption_group_commit_size_sum") == 5
    written = dict(
        await conn.fetch(
            "SELECT id, customer_id FROM redemptions WHERE id = ANY($1::bigint[])",
            [i for ids in results for i in ids],
        )
    )
    assert [[written[i] for i in ids] for ids in results] == customers
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'coupon.redeemed'")
    assert await conn.fetchval(ADVISORY_LOCKS) == 0


async def test_one_bad_row_fails_only_its_own_redeem(
    app: web.Application, started: None, conn: asyncpg.Connection
) -> None:
    commits = GroupCommit(app[PG_POOL], concurrency=1, registry=CollectorRegistry())
    slot = Slot(commits)
    await slot.inside.wait()

    async def leaves() -> None:
        async with commits.join(["S:72"]):
            raise LookupError("refused before writing")

    good = asyncio.create_task(_write(commits, [_row("good")]))
    bad = asyncio.create_task(_write(commits, [_row("bad", "1e15")]))  # numeric(16,2) overflow
    leaver = asyncio.create_task(leaves())
    await _wait_in_one_batch(commits, 3)
    await slot.free()

    [good_id] = await good
    with pytest.raises(asyncpg.NumericValueOutOfRangeError) as refused:
        await bad
    assert rolled_back(refused.value)  # the redeem gives back what it took
    with pytest.raises(LookupError):
        await leaver
    rows = await conn.fetch("SELECT id, customer_id FROM redemptions WHERE code = 'G1'")
    assert [(r["id"], r["customer_id"]) for r in rows] == [(good_id, "good")]

    async def unlocked() -> bool:
        return bool(await conn.fetchval(ADVISORY_LOCKS) == 0)

    await until(unlocked, "the batch's session locks released with its connection")


async def test_a_lone_redeem_does_not_wait_for_company(
    app: web.Application, started: None, conn: asyncpg.Connection
) -> None:
    registry = CollectorRegistry()
    commits = GroupCommit(app[PG_POOL], concurrency=2, registry=registry)
    [rid] = await asyncio.wait_for(_write(commits, [_row("alone")]), timeout=10)
    assert await conn.fetchval("SELECT customer_id FROM redemptions WHERE id = $1", rid) == "alone"
    assert registry.get_sample_value("redemption_group_commit_size_sum") == 1
    assert commits.waiting == 0
