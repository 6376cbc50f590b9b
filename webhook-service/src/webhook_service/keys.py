"""Typed application keys of the webhook-service."""

from __future__ import annotations

import asyncio

from aiohttp import web

from webhook_service.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
# Set when deliveries were queued in this process, so that an idle deliverer starts at once.
DELIVERIES_QUEUED = web.AppKey("deliveries_queued", asyncio.Event)
