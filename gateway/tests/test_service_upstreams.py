"""Every service of the route table has its upstream setting, and the part of the URL
space the table mounts for a service reaches that service's replicas and no other's."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from coupon_core.routes import ENDPOINTS, GATEWAY, MOUNTS, WEBHOOK
from coupon_dev.gateway_fixtures import ADMIN, TEST_ADMIN_TOKEN, upstream_url
from gateway.app import create_app
from gateway.keys import ROUTER
from gateway.settings import Settings
from pydantic import ValidationError

UPSTREAM_SETTINGS = {
    "promotion_upstreams",
    "issuance_upstreams",
    "redemption_upstreams",
    "webhook_upstreams",
}


def _replica(name: str) -> web.Application:
    """A stand-in replica that says which service it stands for and what it was asked."""

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response({"service": name, "path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", whoami)
    return app


def _settings(service_env: dict[str, Any], upstreams: dict[str, str], **extra: Any) -> Settings:
    values: dict[str, Any] = {**service_env, **upstreams, **extra}
    return Settings(**values)


def test_every_service_of_the_route_table_has_an_upstream(service_env: dict[str, Any]) -> None:
    settings = _settings(service_env, dict.fromkeys(UPSTREAM_SETTINGS, "http://127.0.0.1:1"))
    served = {e.service for e in ENDPOINTS} | {m.service for m in MOUNTS}
    assert set(create_app(settings)[ROUTER].upstreams) == served - {GATEWAY}


@pytest.mark.parametrize("missing", sorted(UPSTREAM_SETTINGS))
def test_each_upstream_setting_is_required(service_env: dict[str, Any], missing: str) -> None:
    given = dict.fromkeys(UPSTREAM_SETTINGS - {missing}, "http://127.0.0.1:1")
    with pytest.raises(ValidationError, match=missing):
        _settings(service_env, given)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/webhooks",
        "/api/v1/webhooks/event-types",
        "/api/v1/webhooks/7/deliveries",
        "/api/v1/webhooks/7/not-an-endpoint",  # the mount: the service answers its own 404
    ],
)
async def test_webhook_paths_reach_the_webhook_service(
    aiohttp_server: Any, aiohttp_client: Any, service_env: dict[str, Any], path: str
) -> None:
    others = upstream_url(await aiohttp_server(_replica("another service")))
    webhook = upstream_url(await aiohttp_server(_replica(WEBHOOK)))
    upstreams = {**dict.fromkeys(UPSTREAM_SETTINGS, others), "webhook_upstreams": webhook}
    settings = _settings(service_env, upstreams, bootstrap_admin_token=TEST_ADMIN_TOKEN)
    gateway = await aiohttp_client(create_app(settings), headers=ADMIN)
    response = await gateway.get(path)
    assert response.status == 200, await response.text()
    assert await response.json() == {"service": WEBHOOK, "path": path}
