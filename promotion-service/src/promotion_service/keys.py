"""Typed application keys of the promotion-service."""

from __future__ import annotations

from aiohttp import web

from promotion_service.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
