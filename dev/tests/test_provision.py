"""Test stores come from the environment, else testcontainers, else embedded binaries."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from coupon_dev.embedded import postgres_bin_dir
from coupon_dev.testing.provision import Infra, Provider, choose_provider, provision
from redis.asyncio import Redis

URLS = {"TEST_DATABASE_URL": "postgresql://x/y", "TEST_REDIS_URL": "redis://x:1/0"}


def _docker(answer: bool) -> object:
    calls: list[bool] = []

    def has_docker() -> bool:
        calls.append(True)
        return answer

    has_docker.calls = calls  # type: ignore[attr-defined]
    return has_docker


def test_environment_wins_and_docker_is_not_asked() -> None:
    has_docker = _docker(True)
    assert choose_provider(URLS, has_docker) is Provider.ENV  # type: ignore[arg-type]
    assert has_docker.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "partial", [{"TEST_DATABASE_URL": "postgresql://x/y"}, {"TEST_REDIS_URL": "redis://x"}]
)
def test_both_urls_are_needed_for_the_environment(partial: dict[str, str]) -> None:
    assert choose_provider(partial, lambda: False) is Provider.EMBEDDED


def test_docker_comes_second() -> None:
    assert choose_provider({}, lambda: True) is Provider.TESTCONTAINERS


def test_docker_can_be_declined() -> None:
    assert choose_provider({"COUPON_TEST_NO_DOCKER": "1"}, lambda: True) is Provider.EMBEDDED


def test_embedded_binaries_come_last() -> None:
    assert choose_provider({}, lambda: False) is Provider.EMBEDDED


def test_environment_urls_are_used_as_given() -> None:
    with provision(URLS, lambda: False) as infra:
        assert (infra.provider, infra.postgres_url, infra.redis_url) == (
            Provider.ENV,
            URLS["TEST_DATABASE_URL"],
            URLS["TEST_REDIS_URL"],
        )


async def test_embedded_servers_start_answer_and_stop() -> None:
    with provision({}, lambda: False) as infra:
        assert infra.provider is Provider.EMBEDDED
        assert infra.postgres is not None
        assert infra.redis is not None
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        client: Redis = Redis.from_url(infra.redis_url)
        assert await client.ping()
        await client.aclose()
        postgres, redis = infra.postgres, infra.redis
    assert not postgres.running
    assert not redis.running


@pytest.fixture
def private_home() -> Iterator[Path]:
    """A directory only its owner may enter, as root's home (0700) is; not under
    ``tmp_path``, whose root every starting pytest run sets back to 0700 anyway."""
    with tempfile.TemporaryDirectory(prefix="coupon-home-") as home:
        Path(home).chmod(0o700)
        yield Path(home)


@pytest.mark.timeout(90)
async def test_embedded_postgres_runs_from_binaries_in_a_private_directory(
    private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone in a private home. Under root the server runs as an unprivileged user, which
    must still reach the binaries."""
    # The pgserver package as installed in the clone's virtualenv, with the libraries its
    # binaries load from beside it (their RPATH is $ORIGIN/../../../pgserver.libs).
    bundled = postgres_bin_dir()
    installed = bundled.parents[1]
    site_packages = private_home / "clone" / ".venv" / "site-packages"
    for part in (installed.name, f"{installed.name}.libs"):
        shutil.copytree(installed.parent / part, site_packages / part, symlinks=True)
    clone_bin = site_packages / bundled.relative_to(installed.parent)
    monkeypatch.setenv("COUPON_PG_BIN", str(clone_bin))
    with provision({}, lambda: False) as infra:
        assert infra.postgres is not None
        assert infra.postgres.proc is not None
        server = psutil.Process(infra.postgres.proc.pid)
        assert Path(server.exe()).is_relative_to(clone_bin)
        unprivileged = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
        assert server.uids().effective == unprivileged
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()


def test_session_infra_is_real(infra: Infra) -> None:
    assert infra.postgres_url.startswith("postgresql://")
    assert infra.redis_url.startswith(("redis://", "redis+cluster://"))
