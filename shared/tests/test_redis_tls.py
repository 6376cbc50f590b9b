"""Redis over TLS, as managed Redis services with in-transit encryption require: a single
Redis at ``rediss://`` and a Redis Cluster at ``rediss+cluster://``, both real TLS-only
``redis-server`` processes whose certificates come from a certificate authority made here,
the client trusting it through ``REDIS_TLS_CA_FILE`` and presenting ``REDIS_TLS_CERT_FILE``
and ``REDIS_TLS_KEY_FILE``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from coupon_core.identity import Principal
from coupon_core.keys import REDIS
from coupon_core.lifecycle import redis_for
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.embedded_tls import (
    EmbeddedTlsRedis,
    EmbeddedTlsRedisCluster,
    TlsFiles,
    make_certificates,
)
from coupon_dev.testing.plugin import signed_as
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

SIGNED = (signed_as(Principal("api_token", "1", "test")),)
COUNT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[str]:
    server = EmbeddedTlsRedis(tmp_path_factory.mktemp("redis-tls") / "data", tls)
    server.start()
    yield server.url()
    server.stop()


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[str]:
    cluster = EmbeddedTlsRedisCluster(tmp_path_factory.mktemp("cluster-tls") / "nodes", tls)
    cluster.start()
    yield cluster.url()
    cluster.stop()


def _settings(service_env: dict[str, Any], url: str, tls: TlsFiles, **extra: Any) -> Any:
    return ServiceSettings(
        **{
            **service_env,
            "redis_url": url,
            "redis_tls_ca_file": str(tls.ca),
            "redis_tls_cert_file": str(tls.client_cert),
            "redis_tls_key_file": str(tls.client_key),
            **extra,
        }
    )


async def _serves_over_tls(aiohttp_client: Any, settings: ServiceSettings) -> Redis:
    """A service on ``settings`` is ready, says its Redis answers, and serves a request
    that needs Redis (the replay guard of its gateway identity)."""
    app = build_app(settings, service="tls", migrations_dir=None)

    async def stored(request: web.Request) -> web.Response:
        redis = request.app[REDIS]
        await redis.set("{tls}:seen", request.query["value"])
        seen = cast(bytes, await redis.get("{tls}:seen"))
        return web.json_response({"value": seen.decode()})

    app.router.add_get("/v2/coupon/series/tls", stored)
    client = await aiohttp_client(app)
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["stores"] == {"postgres": "ok", "redis": "ok"}
    answer = await client.get("/v2/coupon/series/tls?value=secret", middlewares=SIGNED)
    assert (answer.status, await answer.json()) == (200, {"value": "secret"})
    return cast(Redis, client.app[REDIS])


async def test_a_service_talks_tls_to_redis(
    aiohttp_client: Any, service_env: dict[str, Any], tls: TlsFiles, tls_redis: str
) -> None:
    redis = await _serves_over_tls(aiohttp_client, _settings(service_env, tls_redis, tls))
    assert isinstance(redis, Redis)
    script = redis.register_script(COUNT)
    assert await script(keys=["{tls}:n"], args=[3]) == 3


async def test_a_service_talks_tls_to_a_redis_cluster(
    aiohttp_client: Any, service_env: dict[str, Any], tls: TlsFiles, tls_cluster: str
) -> None:
    assert tls_cluster.startswith("rediss+cluster://")
    redis = await _serves_over_tls(aiohttp_client, _settings(service_env, tls_cluster, tls))
    assert isinstance(redis, RedisCluster)
    script = redis.register_script(COUNT)
    # Keys of many slots: every master answers over TLS.
    for n in range(30):
        assert await script(keys=[f"{{C:T{n}}}:uses"], args=[n]) == n
    assert len({node.port for node in redis.get_primaries()}) == 3


@pytest.mark.parametrize("url_kind", ["single", "cluster"])
async def test_a_client_without_the_certificates_is_refused(
    service_env: dict[str, Any],
    tls: TlsFiles,
    tls_redis: str,
    tls_cluster: str,
    tmp_path: Path,
    url_kind: str,
) -> None:
    url = tls_redis if url_kind == "single" else tls_cluster
    other = make_certificates(tmp_path / "other")
    refused = [
        # The server's certificate is not signed by the authority this client trusts.
        _settings(service_env, url, tls, redis_tls_ca_file=str(other.ca)),
        # The server wants a client certificate its authority signed.
        _settings(
            service_env,
            url,
            tls,
            redis_tls_cert_file=str(other.client_cert),
            redis_tls_key_file=str(other.client_key),
        ),
    ]
    for settings in refused:
        client = redis_for(settings)
        try:
            with pytest.raises(RedisConnectionError):
                await client.ping()
        finally:
            await client.aclose()


def test_tls_settings_are_checked_at_start_up(
    service_env: dict[str, Any], tls: TlsFiles, tmp_path: Path
) -> None:
    cluster = "rediss+cluster://user:pw@a:6380,b:6380"
    accepted = ServiceSettings(**{**service_env, "redis_url": cluster})
    assert accepted.redis_url == cluster
    bad = [
        # A client certificate without its key, or the reverse.
        ({"redis_tls_cert_file": str(tls.client_cert)}, "go together"),
        ({"redis_tls_key_file": str(tls.client_key)}, "go together"),
        # A file that is not there.
        ({"redis_tls_ca_file": str(tmp_path / "missing.crt")}, "redis_tls_ca_file"),
        # TLS files for a URL that does not use TLS: a mistake to say so at start-up.
        ({"redis_url": "redis://a:6379/0", "redis_tls_ca_file": str(tls.ca)}, "not a rediss"),
    ]
    for extra, problem in bad:
        with pytest.raises(ValidationError, match=problem):
            ServiceSettings(**{**service_env, "redis_url": "rediss://a:6380/0", **extra})
