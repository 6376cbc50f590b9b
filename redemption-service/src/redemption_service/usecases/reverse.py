"""Reversal: the ledger first, then the counters, under the group's shared lock throughout."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import NotFound
from redis.exceptions import RedisError

from redemption_service.counters import Counters
from redemption_service.db import ledger, locks
from redemption_service.domain.models import Redemption

OnCommit = Callable[[Connection, Redemption], Awaitable[None]]


async def reverse(
    pool: asyncpg.Pool,
    counters: Counters,
    redemption_id: int,
    *,
    reason: str | None,
    on_commit: OnCommit | None = None,
) -> Redemption:
    """Reverse once; reversing again answers the first reversal. A session-level shared lock
    on the group spans the commit *and* the give-back, so a rebuild (which reads reversals
    from the ledger) cannot run between them and count the reversal twice."""
    async with pool.acquire() as conn:
        found = await ledger.get(conn, redemption_id)
        if found is None:
            raise NotFound(
                f"Redemption {redemption_id} does not exist.", code="redemption_not_found"
            )
        await locks.lock_session_shared(conn, found.group_ref)
        try:
            async with conn.transaction():
                current = await ledger.get(conn, redemption_id, for_update=True)
                assert current is not None
                first = current.reversed_at is None
                result = await ledger.reverse(conn, current, reason) if first else current
                if on_commit is not None:
                    await on_commit(conn, result)
            if first:
                # If this fails the counter stays high (safe); the reconciler repairs it.
                with contextlib.suppress(RedisError, OSError):
                    await counters.release(result.group_ref, [(result.code, result.customer_id)])
        finally:
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await locks.unlock_session_shared(conn, found.group_ref)
    return result
