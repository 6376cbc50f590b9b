"""The Idempotency-Key flow around a POST handler (coupon_core.idempotency does the storage)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from coupon_core import idempotency
from coupon_core.db import Connection
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL, PRINCIPAL

from redemption_service.keys import SETTINGS


@dataclass(frozen=True, slots=True)
class Key:
    scope: str
    key: str

    async def complete(self, conn: Connection, *, status: int, body: Any) -> None:
        """Call in the transaction that commits the request's effect."""
        await idempotency.complete(conn, scope=self.scope, key=self.key, status=status, body=body)


Run = Callable[[Key | None], Awaitable[tuple[int, Any]]]


async def respond(request: web.Request, *, operation: str, raw: bytes, run: Run) -> web.Response:
    header = request.headers.get(idempotency.HEADER)
    if header is None:
        status, body = await run(None)
        return json_response(body, status=status)
    principal = request[PRINCIPAL]
    key = Key(f"{operation}:{principal.kind}:{principal.id}", idempotency.validate_key(header))
    pool = request.app[PG_POOL]
    fingerprint = idempotency.request_hash(request.method, request.path_qs, raw)
    replay = await idempotency.begin(
        pool,
        scope=key.scope,
        key=key.key,
        fingerprint=fingerprint,
        retention=request.app[SETTINGS].idempotency_retention,
    )
    if replay is not None:
        return json_response(
            replay.body, status=replay.status, headers={"Idempotent-Replayed": "true"}
        )
    try:
        status, body = await run(key)
    except BaseException:
        # Failed without effect (the completion commits with the effect): let a retry run.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await asyncio.shield(idempotency.abandon(pool, scope=key.scope, key=key.key))
        raise
    return json_response(body, status=status)
