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
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, SlotNotCoveredError

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


@contextlib.contextmanager
def _outage_as_connection_error() -> Iterator[None]:
    try:
        yield
    except RedisClusterException as exc:
        if not (isinstance(exc, SlotNotCoveredError) or str(exc).startswith(_UNREACHABLE)):
            raise  # a command the cluster cannot route (keys of several slots): a bug
        raise RedisConnectionError(f"cluster unreachable: {exc}") from exc
    except (AttributeError, TypeError) as exc:
        if not _raised_in_connection_code(exc.__traceback__):
            raise
        raise RedisConnectionError(f"connection torn down mid-command: {exc!r}") from exc


# Set while a task (and the tasks it gathers) holds a turn: a pipeline that re-sends its
# redirected commands one by one through the client must not wait for a second turn.
_HOLDS_TURN: ContextVar[bool] = ContextVar("holds_redis_cluster_turn", default=False)


class OutageAwarePipeline(ClusterPipeline):
    cluster_client: OutageAwareCluster

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        async with self.cluster_client.turn():
            with _outage_as_connection_error():
                return await super().execute(raise_on_error, allow_redirections)


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
                return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return OutageAwarePipeline(self, transaction)  # type: ignore[abstract]
