"""Typed application and request keys of the gateway."""

from __future__ import annotations

from aiohttp import web
from coupon_core.routes import RouteMatch

from gateway.connections import UpstreamConnections
from gateway.domain.credentials import Credential
from gateway.domain.passwords import Passwords
from gateway.gatekeeper import Gatekeeper
from gateway.principals import Caller
from gateway.proxy_config import ProxyConfig
from gateway.ratelimit import Window
from gateway.routing import Router
from gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ROUTER = web.AppKey("router", Router)
GATEKEEPER = web.AppKey("gatekeeper", Gatekeeper)
PASSWORDS = web.AppKey("passwords", Passwords)
PROXY_CONFIG = web.AppKey("proxy_config", ProxyConfig)
UPSTREAM_CONNECTIONS = web.AppKey("upstream_connections", UpstreamConnections)

CALLER = web.RequestKey("caller", Caller)
CREDENTIAL = web.RequestKey("credential", Credential)
RATE_WINDOW = web.RequestKey("rate_window", Window)
ROUTE_MATCH = web.RequestKey("route_match", RouteMatch)
# The client address and the trusted proxies it came through (api/middleware.py).
FORWARDED_CHAIN = web.RequestKey("forwarded_chain", list[str])
# Set on a request the audit log records (gateway.audit): the proxy hands over the
# upstream's whole answer (up to MAX_BODY_BYTES) instead of streaming it.
WHOLE_ANSWER = web.RequestKey("whole_answer", bool)
