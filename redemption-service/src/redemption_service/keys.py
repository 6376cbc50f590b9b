"""Typed application keys of the redemption-service."""

from __future__ import annotations

from aiohttp import web

from redemption_service.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
