"""The one Idempotency-Key flow (coupon_core.idempotency.hold), on a service of its own.

What the use case answered, a success or a refusal, is replayed; anything else (a lookup
that finds nothing, an unexpected error, a cancellation) lets the key go, and the error that
ended the request is the one answered, even when a cancellation comes while the key is let go.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from coupon_core import idempotency
from coupon_core.errors import NotFound, Refusal
from coupon_core.http import json_response
from coupon_core.identity import Principal
from coupon_core.keys import PG_POOL
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.testing.plugin import signed_as
from coupon_dev.testing.poll import until

SIGNED = (signed_as(Principal(kind="api_token", id="1", name="tester")),)
PATH = "/v2/things"
GATE = web.AppKey("gate", asyncio.Event)
HANDLERS = web.AppKey("handlers", list[asyncio.Task[Any]])


class SoldOut(Refusal):
    code = "sold_out"


async def things(request: web.Request) -> web.Response:
    """Answers as ``?outcome=`` says: ok, refused, missing, broken; ``?wait=1`` first waits
    for the test's gate."""
    task = asyncio.current_task()
    assert task is not None
    request.app[HANDLERS].append(task)
    outcome = request.query["outcome"]
    async with idempotency.hold(request, operation="things", retention=timedelta(hours=24)) as held:
        if held.replay is not None:
            return held.replay
        if request.query.get("wait"):
            await request.app[GATE].wait()
        if outcome == "refused":
            raise SoldOut("Sold out.")
        if outcome == "missing":
            raise NotFound("No such thing.")
        if outcome == "broken":
            raise RuntimeError("boom")
        body = {"thing": outcome}
        answer = held.answer(200, body)
        if answer is not None:  # a use case stores it in the transaction of its effect
            async with request.app[PG_POOL].acquire() as conn:
                await idempotency.store(conn, answer)
    return json_response(body)


@pytest.fixture
async def client(aiohttp_client: Any, service_env: dict[str, Any], tmp_path: Path) -> Any:
    # The service's only migration: the library's Idempotency-Key table.
    (tmp_path / "0001_idempotency.shared").write_text("-- coupon_core's\n")
    settings = ServiceSettings(**service_env)
    app = build_app(settings, service="things", migrations_dir=tmp_path)
    app[GATE] = asyncio.Event()
    app[HANDLERS] = []
    app.router.add_post(PATH, things)
    return await aiohttp_client(app)


@pytest.fixture
async def db(database_url: str) -> Any:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def post(client: Any, outcome: str, key: str, *, wait: bool = False) -> Any:
    params = {"outcome": outcome, **({"wait": "1"} if wait else {})}
    return await client.post(
        PATH, params=params, json={"n": 1}, headers={"Idempotency-Key": key}, middlewares=SIGNED
    )


async def test_an_answer_is_replayed(client: Any) -> None:
    first = await post(client, "ok", "o")
    again = await post(client, "ok", "o")
    assert first.status == again.status == 200
    assert await again.json() == await first.json() == {"thing": "ok"}
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_refusal_is_stored_and_replayed(client: Any) -> None:
    first = await post(client, "refused", "r")
    again = await post(client, "refused", "r")
    assert first.status == again.status == 400
    assert (
        await again.json()
        == await first.json()
        == {
            "errors": [{"code": 400, "message": "Sold out."}],
            "warnings": [],
        }
    )
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(("outcome", "status"), [("missing", 404), ("broken", 500)])
async def test_other_errors_let_the_key_go(client: Any, db: Any, outcome: str, status: int) -> None:
    failed = await post(client, outcome, "k")
    assert failed.status == status
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_a_cancellation_while_letting_go_neither_keeps_the_key_nor_hides_the_error(
    client: Any, db: Any, database_url: str
) -> None:
    sent = asyncio.create_task(post(client, "missing", "c", wait=True))

    async def reserved() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'c'"))

    await until(reserved, "the key reserved")
    locker = await asyncpg.connect(database_url)
    try:
        async with locker.transaction():
            # The key's row held here, the request's DELETE of it waits until the commit.
            await locker.execute("SELECT 1 FROM idempotency_keys WHERE key = 'c' FOR UPDATE")
            client.app[GATE].set()

            async def letting_go() -> bool:
                return bool(await db.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))

            await until(letting_go, "the request letting its key go")
            [handler] = client.app[HANDLERS]
            handler.cancel()
    finally:
        await locker.close()
    answered = await sent
    assert answered.status == 404
    assert (await answered.json())["errors"][0]["message"] == "No such thing."
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


class Effect:
    """A use case's effect, as :func:`idempotency.until_committed` sees one."""

    what = "effect"

    def __init__(self) -> None:
        self.committing = False
        self.rolled_back = False

    async def commit(self, answer: idempotency.Answer | None) -> None:
        self.committing = True

    async def roll_back(self) -> None:
        self.rolled_back = True


async def test_an_effect_its_block_leaves_uncommitted_is_rolled_back() -> None:
    committed, failed, forgotten = Effect(), Effect(), Effect()
    async with idempotency.until_committed(committed) as effect:
        await effect.commit(None)
    with pytest.raises(LookupError):
        async with idempotency.until_committed(failed):
            raise LookupError
    with pytest.raises(RuntimeError, match="without committing"):
        async with idempotency.until_committed(forgotten):
            pass
    assert [e.rolled_back for e in (committed, failed, forgotten)] == [False, True, True]
