"""Typed application keys of the gateway."""

from __future__ import annotations

from aiohttp import web

from gateway.routing import Router
from gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ROUTER = web.AppKey("router", Router)
