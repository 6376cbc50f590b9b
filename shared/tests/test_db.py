"""What proves a statement was rolled back (give back what it took) and what does not (a
lost answer: keep the take, the reconciler repairs the over-count)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from coupon_core.db import CommitFailed, rolled_back
from coupon_dev.testing.poll import until


async def test_an_error_the_server_answered_proves_a_rollback(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        with pytest.raises(asyncpg.UniqueViolationError) as refused:
            await conn.execute("INSERT INTO t VALUES (1)")
        assert rolled_back(refused.value)
        assert rolled_back(CommitFailed("The redemption was not recorded; retry."))
    finally:
        await conn.close()


async def test_a_lost_connection_proves_nothing(database_url: str) -> None:
    victim = await asyncpg.connect(database_url)
    killer = await asyncpg.connect(database_url)
    try:
        pid = victim.get_server_pid()
        running = asyncio.create_task(victim.execute("SELECT pg_sleep(30)"))

        async def sleeping() -> bool:
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%'"
            )
            return bool(await killer.fetchval(query, pid))

        await until(sleeping, "the victim's statement running", limit_s=10.0)
        await killer.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)) as lost:
            await running
        assert not rolled_back(lost.value)
        assert not rolled_back(asyncpg.ConnectionDoesNotExistError("closed mid-operation"))
        assert not rolled_back(TimeoutError())
    finally:
        victim.terminate()
        await killer.close()
