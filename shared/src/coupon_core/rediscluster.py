"""The Redis Cluster client, with its outages reported the way a single Redis reports them.

redis-py's asyncio cluster client signals a node it cannot reach with
:class:`~redis.exceptions.RedisClusterException` (the same class as for a command it cannot
route, which stays as it is), which is not a
:class:`~redis.exceptions.RedisError`, and when a node dies under a running pipeline it can
fail with ``AttributeError``/``TypeError`` from inside its connection code (a writer torn
down by another task: ``'NoneType' object has no attribute 'writelines'``). Callers here
treat ``RedisError`` as "the store is unavailable" (a 503, a retry, a give-back that is
skipped); this client raises :class:`~redis.exceptions.ConnectionError` for all of those, so
a cluster outage takes the same paths as a single-node one.

The asyncio cluster client has no blocking pool either: a node whose ``max_connections``
are all in use fails the next command with ``MaxConnectionsError`` (redis-py has a
``BlockingConnectionPool`` for a single Redis only). This client admits at most
``commands_in_flight`` commands and pipelines at once and makes the next one wait up to
``wait_timeout_s`` for its turn, as a blocking pool would, so a burst queues instead of
failing. A command or pipeline holds at most one connection per node at a time, so no node
needs more than ``commands_in_flight`` connections; each node may open twice that, because
redis-py counts a connection it is still disconnecting after a topology refresh until the
disconnect completes (redis/redis-py#3929).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

import redis.asyncio.connection
from redis.asyncio.cluster import ClusterPipeline, PipelineCommand, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, SlotNotCoveredError
from redis.utils import safe_str

from coupon_core import cluster_routes
from coupon_core.turns import NoTurn, Turns

# What redis-py says when no node answers or the slots it knows are not all served.
_UNREACHABLE = (
    "Redis Cluster cannot be connected",
    "All slots are not covered",
    "startup_nodes could not agree",
)
# Where a torn-down connection fails: redis-py's connection module and asyncio's transports.
_CONNECTION_CODE = (redis.asyncio.connection.__file__, str(Path(asyncio.__file__).parent))


def _raised_in_connection_code(traceback: TracebackType | None) -> bool:
    """Whether the innermost frame is connection code; a TypeError from a bad call made
    by us is raised in the caller's frame and stays a TypeError."""
    last = None
    while traceback is not None:
        last, traceback = traceback, traceback.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.startswith(_CONNECTION_CODE)


def _outage_error(exc: Exception) -> Exception:
    """``exc`` as the ``ConnectionError`` an outage is reported as, or ``exc`` itself."""
    error: Exception | None = None
    if isinstance(exc, RedisClusterException):
        # Anything else is a command the cluster cannot route (keys of several slots): a bug.
        if isinstance(exc, SlotNotCoveredError) or str(exc).startswith(_UNREACHABLE):
            error = RedisConnectionError(f"cluster unreachable: {exc}")
    elif isinstance(exc, AttributeError | TypeError) and _raised_in_connection_code(
        exc.__traceback__
    ):
        error = RedisConnectionError(f"connection torn down mid-command: {exc!r}")
    if error is None:
        return exc
    error.__cause__ = exc
    return error


@contextlib.contextmanager
def _outage_as_connection_error() -> Iterator[None]:
    try:
        yield
    except (RedisClusterException, AttributeError, TypeError) as exc:
        error = _outage_error(exc)
        if error is exc:
            raise
        raise error from exc


# Set while a task (and the tasks it gathers) holds a turn: a pipeline that re-sends its
# redirected commands one by one through the client must not wait for a second turn.
_HOLDS_TURN: ContextVar[bool] = ContextVar("holds_redis_cluster_turn", default=False)


class OutageAwarePipeline(ClusterPipeline):
    cluster_client: OutageAwareCluster

    def __init__(self, client: OutageAwareCluster, transaction: bool | None = None) -> None:
        super().__init__(client, transaction)
        # Queued here, to go straight to the nodes (cluster_routes); handed to redis-py's
        # pipeline only when they cannot. A transaction is redis-py's from the start.
        self._routed: list[PipelineCommand] | None = None if transaction else []

    def __len__(self) -> int:
        return super().__len__() + len(self._routed or ())

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._routed is None:
            return super().execute_command(*args, **kwargs)
        self._routed.append(PipelineCommand(len(self._routed), *args, **kwargs))
        return self

    async def reset(self) -> None:  # type: ignore[override]
        if self._routed is not None:
            self._routed = []
        await super().reset()  # type: ignore[no-untyped-call]

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        async with self.cluster_client.turn():
            with _outage_as_connection_error():
                commands = self._routed
                if not commands:
                    return await super().execute(raise_on_error, allow_redirections)
                if allow_redirections and await cluster_routes.send(
                    self.cluster_client, commands, retry=raise_on_error
                ):
                    await self.reset()
                    return _results(commands, raise_on_error)
                self._routed = None  # redis-py's own path, from here on
                try:
                    for command in commands:
                        super().execute_command(*command.args, **command.kwargs)
                    return await super().execute(raise_on_error, allow_redirections)
                finally:
                    self._routed = []


def _results(commands: list[PipelineCommand], raise_on_error: bool) -> list[Any]:
    """Each command's answer, its error as an outage is reported; with ``raise_on_error``
    the first error is raised instead, named as redis-py's pipeline names it."""
    results = [
        _outage_error(c.result) if isinstance(c.result, Exception) else c.result for c in commands
    ]
    if raise_on_error:
        for command, result in zip(commands, results, strict=True):
            if isinstance(result, Exception):
                text = " ".join(map(safe_str, command.args))[:100]
                where = f"Command # {command.position + 1} ({text}) of pipeline"
                result.args = (f"{where} caused error: {result.args}", *result.args[1:])
                raise result
    return results


class OutageAwareCluster(RedisCluster):
    def __init__(
        self, *, commands_in_flight: int = 100, wait_timeout_s: float = 10.0, **kwargs: Any
    ) -> None:
        super().__init__(**{**kwargs, "max_connections": 2 * commands_in_flight})
        self._turns = Turns(commands_in_flight, wait_timeout_s)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """One of the ``commands_in_flight`` turns, waited for up to ``wait_timeout_s``."""
        if _HOLDS_TURN.get():
            yield
            return
        try:
            await self._turns.take()
        except NoTurn:
            raise RedisConnectionError("No connection available.") from None
        holds = _HOLDS_TURN.set(True)
        try:
            yield
        finally:
            _HOLDS_TURN.reset(holds)
            self._turns.give_back()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.turn():
            with _outage_as_connection_error():
                command = PipelineCommand(0, *args, **kwargs)
                if await cluster_routes.send(self, [command], retry=True):
                    if isinstance(command.result, Exception):
                        raise command.result
                    return command.result
                return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return OutageAwarePipeline(self, transaction)  # type: ignore[abstract]
