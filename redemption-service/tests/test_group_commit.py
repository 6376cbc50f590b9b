"""Group commit: concurrent redeems share the locks statement and the ledger statement (with
their Idempotency-Key completions), and one member's failure stays its own
(db/group_commit.py)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from coupon_core.db import rolled_back
from coupon_core.idempotency import Answer
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from prometheus_client import CollectorRegistry
from redemption_service.db import ledger
from redemption_service.db.group_commit import GroupCommit, Seat

ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"


@pytest.fixture
async def started(aiohttp_client: Any, app: web.Application) -> None:
    """The app started: migrations applied, the pool open."""
    await aiohttp_client(app)


def _rows(seat: Seat, customers: list[str], amount: str = "10") -> list[ledger.NewRedemption]:
    return [
        ledger.NewRedemption(rid, "G1", "S:70", c, Decimal(amount), Decimal(1), "", [])
        for rid, c in zip(seat.ids, customers, strict=True)
    ]


class Slot:
    """The only slot of ``commits``, held by a member until :meth:`free` (it then leaves
    without writing), so the next joiners wait in one batch."""

    def __init__(self, commits: GroupCommit) -> None:
        self.inside = asyncio.Event()
        self.go = asyncio.Event()
        self.task = asyncio.create_task(self._hold(commits))

    async def _hold(self, commits: GroupCommit) -> None:
        async with commits.join(["S:70"], 1):
            self.inside.set()
            await self.go.wait()

    async def free(self) -> None:
        self.go.set()
        await self.task


async def _write(
    commits: GroupCommit,
    customers: list[str],
    amount: str = "10",
    completion: Answer | None = None,
) -> list[int]:
    """Writes a row for each customer (and the completion); the rows' ids."""
    async with commits.join(["S:70", "S:71"], len(customers)) as seat:
        await seat.write(_rows(seat, customers, amount), completion)
        return seat.ids


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
    writers = [asyncio.create_task(_write(commits, rows)) for rows in customers]
    await _wait_in_one_batch(commits, 5)
    await slot.free()
    results = await asyncio.gather(*writers)

    assert registry.get_sample_value("redemption_group_commit_size_count") == 1
    assert registry.get_sample_value("redemption_group_commit_size_sum") == 5
    written = {
        row["id"]: row["customer_id"]
        for row in await conn.fetch(
            "SELECT id, customer_id FROM redemptions WHERE id = ANY($1::bigint[])",
            [i for ids in results for i in ids],
        )
    }
    assert [[written[i] for i in ids] for ids in results] == customers
    # One coupon.redeemed event per row written (1 + 2 + 1 + 2 + 1), naming its redemption.
    events = await conn.fetch(
        "SELECT (payload->>'redemptionId')::bigint AS id FROM outbox "
        "WHERE event_type = 'coupon.redeemed'"
    )
    assert len(events) == 7
    assert sorted(e["id"] for e in events) == sorted(i for ids in results for i in ids)
    assert await conn.fetchval(ADVISORY_LOCKS) == 0


async def test_one_bad_row_fails_only_its_own_redeem(
    app: web.Application, started: None, conn: asyncpg.Connection
) -> None:
    commits = GroupCommit(app[PG_POOL], concurrency=1, registry=CollectorRegistry())
    slot = Slot(commits)
    await slot.inside.wait()

    async def leaves() -> None:
        async with commits.join(["S:72"], 1):
            raise LookupError("refused before writing")

    good = asyncio.create_task(_write(commits, ["good"]))
    bad = asyncio.create_task(_write(commits, ["bad"], "1e15"))  # numeric(16,2) overflow
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
    [rid] = await asyncio.wait_for(_write(commits, ["alone"]), timeout=10)
    assert await conn.fetchval("SELECT customer_id FROM redemptions WHERE id = $1", rid) == "alone"
    assert registry.get_sample_value("redemption_group_commit_size_sum") == 1
    assert commits.waiting == 0


async def test_completions_commit_with_the_rows_of_the_same_batch(
    app: web.Application, started: None, conn: asyncpg.Connection
) -> None:
    """A redeem with an Idempotency-Key stores its response in the batch's statement: with
    its rows, or alone when it wrote none; a refused statement stores neither."""
    for key in ("with-rows", "no-rows", "refused"):
        await conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ('t', $1, 'h')", key
        )
    commits = GroupCommit(app[PG_POOL], concurrency=1, registry=CollectorRegistry())
    slot = Slot(commits)
    await slot.inside.wait()

    def completion(key: str) -> Answer:
        return Answer("t", key, 200, {"key": key})

    with_rows = asyncio.create_task(_write(commits, ["k1"], completion=completion("with-rows")))
    no_rows = asyncio.create_task(_write(commits, [], completion=completion("no-rows")))
    refused = asyncio.create_task(_write(commits, ["k2"], "1e15", completion("refused")))
    await _wait_in_one_batch(commits, 3)
    await slot.free()

    [rid] = await with_rows
    assert await no_rows == []
    with pytest.raises(asyncpg.NumericValueOutOfRangeError):
        await refused
    stored = {
        r["key"]: (r["status"], r["body"], r["completed_at"] is not None)
        for r in await conn.fetch(
            "SELECT key, status, body::text AS body, completed_at FROM idempotency_keys"
        )
    }
    assert stored == {
        "with-rows": (200, '{"key": "with-rows"}', True),
        "no-rows": (200, '{"key": "no-rows"}', True),
        "refused": (None, None, False),
    }
    assert await conn.fetchval("SELECT customer_id FROM redemptions WHERE id = $1", rid) == "k1"
