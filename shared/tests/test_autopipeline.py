"""Auto-pipelining: commands issued together share one round trip and one connection, and
each keeps its own answer and its own error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from coupon_core.autopipeline import AutoPipeline
from coupon_core.lifecycle import redis_from_url
from coupon_core.scripts import load_scripts
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ResponseError

NAME = "autopipeline-test"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = cast(Redis, redis_from_url(redis_url, client_name=NAME))
    yield redis
    await redis.aclose()


async def _connections(redis_url: str) -> int:
    admin = cast(Redis, redis_from_url(redis_url))
    try:
        listed = await admin.client_list(target_nodes="all")
    finally:
        await admin.aclose()
    # A cluster answers per node.
    clients = [c for cs in listed.values() for c in cs] if isinstance(listed, dict) else listed
    return sum(1 for c in clients if c.get("name") == NAME)


async def test_commands_issued_together_share_one_connection(client: Redis, redis_url: str) -> None:
    pipe = AutoPipeline(client)
    await client.mset({f"{{ap}}:{n}": n for n in range(50)})
    opened = await _connections(redis_url)
    answers = await asyncio.gather(*(pipe.execute("GET", f"{{ap}}:{n}") for n in range(50)))
    assert answers == [str(n).encode() for n in range(50)]
    assert await _connections(redis_url) == opened  # the one the MSET used
    # The same calls without it: one connection each.
    await asyncio.gather(*(client.get(f"{{ap}}:{n}") for n in range(50)))
    assert await _connections(redis_url) > opened


async def test_each_command_keeps_its_own_answer_and_error(client: Redis) -> None:
    pipe = AutoPipeline(client)
    await client.set("ap:text", "not a number")
    outcomes = await asyncio.gather(
        pipe.get_many(["ap:text", "ap:missing"]),
        pipe.execute("INCR", "ap:text"),
        pipe.execute("INCR", "ap:count"),
        return_exceptions=True,
    )
    got, failed, counted = outcomes
    assert got == [b"not a number", None]
    assert isinstance(failed, ResponseError)
    assert counted == 1
    assert await pipe.execute("GET", "ap:count") == b"1"  # alone, it goes alone


async def test_a_script_the_server_forgot_is_loaded_again(client: Redis, tmp_path: Path) -> None:
    directory = tmp_path
    (directory / "echo.lua").write_text("return {KEYS[1], ARGV[1]}")
    script = load_scripts(client, directory)["echo"]
    pipe = AutoPipeline(client)
    await client.script_flush()
    answers = await asyncio.gather(*(pipe.script(script, [f"ap:{n}"], [n]) for n in range(3)))
    assert answers == [[f"ap:{n}".encode(), str(n).encode()] for n in range(3)]


async def test_a_cancelled_caller_leaves_the_others_their_answers(client: Redis) -> None:
    pipe = AutoPipeline(client)
    await client.set("ap:kept", "1")

    async def cancelled_while_queued() -> object:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_soon(task.cancel)  # before the batch is sent
        return await pipe.execute("GET", "ap:kept")

    outcomes = await asyncio.gather(
        cancelled_while_queued(), pipe.execute("GET", "ap:kept"), return_exceptions=True
    )
    gone, kept = outcomes
    assert isinstance(gone, asyncio.CancelledError)
    assert kept == b"1"


async def _calls(client: Redis, command: str) -> int:
    """How many times the server (every node of a cluster) ran ``command``."""
    if isinstance(client, RedisCluster):
        stats = await client.info("commandstats", target_nodes="all")
        per_node = list(stats.values())
    else:
        per_node = [await client.info("commandstats")]
    return sum(int(s.get(f"cmdstat_{command}", {}).get("calls", 0)) for s in per_node)


async def test_the_same_read_issued_together_goes_out_once(client: Redis) -> None:
    pipe = AutoPipeline(client)
    await client.set("ap:ready", "1")
    before = await _calls(client, "mget")
    answers = await asyncio.gather(*(pipe.get_many(["ap:ready"]) for _ in range(20)))
    assert answers == [[b"1"]] * 20
    assert await _calls(client, "mget") == before + 1


async def test_a_read_beside_a_write_of_its_key_is_not_shared(client: Redis) -> None:
    pipe = AutoPipeline(client)
    answers = await asyncio.gather(
        pipe.execute("GET", "ap:n"), pipe.execute("INCR", "ap:n"), pipe.execute("GET", "ap:n")
    )
    assert list(answers) == [None, 1, b"1"]
