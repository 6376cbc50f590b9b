"""Auto-pipelining: the Redis commands concurrent requests issue in one event-loop turn go
out together, as one pipeline (one write, one read, one connection from the pool), instead
of one round trip each. A command issued alone goes out alone, as it would without this;
nothing waits for company.

Each command keeps its own answer and its own error (``raise_on_error=False``); a failure of
the whole round trip (connection lost) is every command's error, as it would have been for
each of them alone. On a Redis Cluster the cluster pipeline sends one batch per node.

The same read (``GET``/``MGET`` of the same keys) issued by several callers in one batch goes
out once and each of them gets its answer, unless the batch also writes one of its keys (or
holds a command whose keys are not known): concurrent redeems all read the facts-ready
markers, and on a cluster each of those is a command of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from coupon_core.cluster_routes import keys_of
from coupon_core.futures import fail, resolve
from coupon_core.scripts import TimedScript

Command = tuple[Any, ...]


class AutoPipeline:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._queue: list[tuple[Command, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def execute(self, *command: Any) -> Any:
        """``command``'s answer, as ``redis.execute_command(*command)`` gives it."""
        return await self._submit(command)

    def _submit(self, command: Command) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((command, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)
        return future

    async def get_many(self, keys: Sequence[str]) -> list[bytes | str | None]:
        """``GET`` of every key: one ``MGET`` (on a cluster, one per slot)."""
        if not keys:
            return []
        if not isinstance(self.redis, RedisCluster):
            return list(await self.execute("MGET", *keys))
        by_slot: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            by_slot.setdefault(key_slot(key.encode()), []).append(i)
        found: list[bytes | str | None] = [None] * len(keys)
        # Every slot's MGET is queued before the first is awaited: one batch for all.
        queued = [self._submit(("MGET", *(keys[i] for i in slot))) for slot in by_slot.values()]
        answers = [await future for future in queued]
        for slot, values in zip(by_slot.values(), answers, strict=True):
            for i, value in zip(slot, values, strict=True):
                found[i] = value
        return found

    async def script(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]
    ) -> Any:
        """``script`` by ``EVALSHA`` in the pipeline; a server without it (NOSCRIPT, after a
        restart or ``SCRIPT FLUSH``) gets it loaded by the script's own call."""
        started = time.perf_counter()
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await script(keys=keys, args=args)
        finally:
            if isinstance(script, TimedScript):
                script.observed.observe(time.perf_counter() - started)

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._send(queue))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, queue: list[tuple[Command, asyncio.Future[Any]]]) -> None:
        commands, sent_as = _shared_reads([command for command, _ in queue])
        try:
            if len(commands) == 1:
                sent: list[Any] = [await self._one(commands[0])]
            else:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for command in commands:
                        pipe.execute_command(*command)
                    sent = await pipe.execute(raise_on_error=False)
            answers = sent if sent_as is None else [sent[i] for i in sent_as]
        except BaseException as exc:
            for _, future in queue:
                fail(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), answer in zip(queue, answers, strict=True):
            if isinstance(answer, Exception):
                fail(future, answer)
            else:
                resolve(future, answer)

    async def _one(self, command: Command) -> Any:
        try:
            return await self.redis.execute_command(*command)  # type: ignore[no-untyped-call]
        except Exception as exc:
            return exc  # answered like a pipeline's: the caller's error, not the batch's


_READS = frozenset(("GET", "MGET"))


def _shared_reads(commands: list[Command]) -> tuple[list[Command], list[int] | None]:
    """The commands to send, each repeated read once, and for each of ``commands`` the
    index of the one that answers it (None: every command is sent as it is)."""
    written: set[Any] = set()
    repeated = False
    seen: set[Command] = set()
    for command in commands:
        if command[0] in _READS:
            repeated = repeated or command in seen
            seen.add(command)
            continue
        keys = keys_of(command)
        if keys is None:
            return commands, None
        written.update(keys)
    if not repeated:
        return commands, None
    sent: list[Command] = []
    first: dict[Command, int] = {}
    sent_as: list[int] = []
    for command in commands:
        if command[0] in _READS and written.isdisjoint(command[1:]):
            index = first.setdefault(command, len(sent))
            if index == len(sent):
                sent.append(command)
        else:
            index = len(sent)
            sent.append(command)
        sent_as.append(index)
    return sent, sent_as
